package flowgate

// IsSIRETShape reports whether s has the shape of a SIRET: exactly 14 ASCII
// digits. The checksum is not checked here: the directory is authoritative
// on which SIRETs exist, and the validator decides what a bad key means.
func IsSIRETShape(s string) bool {
	if len(s) != 14 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
