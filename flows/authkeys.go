package flows

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// AuthorizedKey is one line of an OpenSSH authorized_keys file: a public
// key and the options flowgate enforces on it (sshd(8), AUTHORIZED_KEYS
// FILE FORMAT). The restrictions OpenSSH offers for what flowgate never
// allows anyway (restrict, no-pty, no-port-forwarding, no-agent-forwarding,
// no-X11-forwarding, no-user-rc) are accepted and need nothing; any other
// option is refused when the file is read.
type AuthorizedKey struct {
	Key  ssh.PublicKey
	File string // where the key was read, for messages
	Line int    // 1-based line in File
	// From is the from="pattern-list" option, nil when absent: the key
	// is accepted only from a client address the list matches (see
	// MatchFrom).
	From []string
	// Expiry is the expiry-time option, zero when absent: the key is
	// refused after that instant.
	Expiry time.Time
}

// Where names the key's file and line, for messages: "keys.pub:3".
func (k AuthorizedKey) Where() string { return fmt.Sprintf("%s:%d", k.File, k.Line) }

// Allows reports whether the key may log in from addr at now, or why not:
// the from= list refuses addr, or the key expired.
func (k AuthorizedKey) Allows(addr netip.Addr, now time.Time) error {
	if !k.Expiry.IsZero() && now.After(k.Expiry) {
		return fmt.Errorf("key %s expired at %s", k.Where(), k.Expiry.Format(time.RFC3339))
	}
	if k.From != nil && !MatchFrom(k.From, addr) {
		return fmt.Errorf("key %s not allowed from %s (from=%q)", k.Where(), addr, strings.Join(k.From, ","))
	}
	return nil
}

// noopOptions are the options that restrict what flowgate never allows
// (a terminal, forwarding, X11, the agent, ~/.ssh/rc): accepted as is.
var noopOptions = map[string]bool{
	"restrict":            true,
	"no-pty":              true,
	"no-port-forwarding":  true,
	"no-agent-forwarding": true,
	"no-x11-forwarding":   true,
	"no-user-rc":          true,
}

// LoadAuthorizedKeys reads an OpenSSH authorized_keys file: one key per
// line, blank lines and lines starting with # ignored, options as
// ParseAuthorizedKeys reads them. An empty file, a line that is not a key
// and an option flowgate does not implement are errors naming the file
// and line.
//
// With an error, the keys of the lines that were read are returned too
// (for reports only: a file with an error must not be used).
func LoadAuthorizedKeys(path string) ([]AuthorizedKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("authorized keys: %w", err)
	}
	keys, err := ParseAuthorizedKeys(path, data)
	if err != nil {
		return keys, err // the good lines too, so that every problem can be reported at once
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("authorized keys %s: no key", path)
	}
	return keys, nil
}

// ParseAuthorizedKeys parses the content of the authorized_keys file name.
// Options are matched without regard to case, as OpenSSH does:
//   - from="pattern-list": see MatchFrom; a pattern list that cannot match
//     any address is an error (an empty pattern, a CIDR whose address has
//     bits past its mask, a host name: flowgate never resolves names, as
//     OpenSSH with its default UseDNS no).
//   - expiry-time="YYYYMMDD[HHMM[SS]][Z]": the system's local time zone, as
//     OpenSSH; a trailing Z means UTC. Given twice, the earliest holds.
//   - restrict, no-pty, no-port-forwarding, no-agent-forwarding,
//     no-X11-forwarding, no-user-rc: accepted (nothing to do).
//
// Every other option (command=, environment=, permitopen=, permitlisten=,
// tunnel=, principals=, cert-authority, pty, ...) is an error naming it.
// All problems of the file are reported at once.
func ParseAuthorizedKeys(name string, data []byte) ([]AuthorizedKey, error) {
	var keys []AuthorizedKey
	var errs []error
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		k := AuthorizedKey{File: name, Line: i + 1}
		key, _, options, _, err := ssh.ParseAuthorizedKey(line)
		if err != nil {
			errs = append(errs, fmt.Errorf("authorized keys %s: not a key: %w", k.Where(), err))
			continue
		}
		k.Key = key
		if err := k.setOptions(options); err != nil {
			errs = append(errs, fmt.Errorf("authorized keys %s: %w", k.Where(), err))
			continue
		}
		keys = append(keys, k)
	}
	return keys, errors.Join(errs...)
}

// setOptions applies a line's options (as ssh.ParseAuthorizedKey splits
// them) to k.
func (k *AuthorizedKey) setOptions(options []string) error {
	for _, opt := range options {
		name, value, hasValue := strings.Cut(opt, "=")
		name = strings.ToLower(name)
		if noopOptions[name] && !hasValue {
			continue
		}
		switch name {
		case "from", "expiry-time":
			if !hasValue {
				return fmt.Errorf("option %s needs a value", name)
			}
			v, err := dequote(value)
			if err != nil {
				return fmt.Errorf("option %s: %w", name, err)
			}
			if name == "from" {
				if k.From != nil {
					return errors.New("option from given twice")
				}
				if k.From, err = parseFrom(v); err != nil {
					return fmt.Errorf("option from=%q: %w", clip(v, 200), err)
				}
				continue
			}
			t, err := parseExpiry(v, time.Local)
			if err != nil {
				return fmt.Errorf("option expiry-time=%q: %w", clip(v, 200), err)
			}
			if k.Expiry.IsZero() || t.Before(k.Expiry) {
				k.Expiry = t
			}
		default:
			return fmt.Errorf("option %s is not supported by flowgate (supported: from=, expiry-time=, restrict, "+
				"no-pty, no-port-forwarding, no-agent-forwarding, no-X11-forwarding, no-user-rc)", clip(name, 60))
		}
	}
	return nil
}

// dequote reads an option value in double quotes, where \" stands for a
// quote (OpenSSH's opt_dequote).
func dequote(v string) (string, error) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", errors.New("value not in double quotes")
	}
	return strings.ReplaceAll(v[1:len(v)-1], `\"`, `"`), nil
}

// clip bounds s for a message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// parseFrom splits a from= pattern list and checks each pattern: a CIDR
// block or address ("10.0.0.0/8", "192.0.2.7", "2001:db8::/32"), or a
// wildcard pattern on the address's text ("192.168.1.*", "10.0.?.1"), each
// optionally negated with "!".
func parseFrom(list string) ([]string, error) {
	pats := strings.Split(list, ",")
	for _, p := range pats {
		p = strings.TrimPrefix(p, "!")
		switch {
		case p == "":
			return nil, errors.New("empty pattern")
		case strings.ContainsAny(p, " \t"):
			return nil, fmt.Errorf("pattern %q holds a space, which no address has (write the list without spaces)", p)
		case strings.Contains(p, "/"):
			pfx, err := netip.ParsePrefix(p)
			if err != nil {
				return nil, fmt.Errorf("pattern %q: not a CIDR block", p)
			}
			if pfx.Masked() != pfx {
				return nil, fmt.Errorf("pattern %q: address has bits set past the /%d mask (%s?)", p, pfx.Bits(), pfx.Masked())
			}
		case strings.Trim(strings.ToLower(p), "0123456789abcdef.:*?%") != "":
			return nil, fmt.Errorf("pattern %q is a host name: flowgate matches the client's address only and "+
				"never resolves names (as OpenSSH with UseDNS no)", p)
		}
	}
	return pats, nil
}

// MatchFrom reports whether addr passes a from= pattern list, as OpenSSH's
// match_host_and_ip does with UseDNS no (the host name is the address):
// a pattern matches when it is a CIDR block or address holding addr, or a
// wildcard pattern ("*" any run, "?" one character) matching the address's
// text. A matching negated pattern ("!10.1.0.0/16") refuses whatever the
// others say; otherwise some positive pattern must match.
func MatchFrom(patterns []string, addr netip.Addr) bool {
	addr = addr.Unmap()
	text := addr.String()
	ok := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		if matchAddr(p, addr, text) {
			if neg {
				return false
			}
			ok = true
		}
	}
	return ok
}

func matchAddr(pattern string, addr netip.Addr, text string) bool {
	if pfx, err := netip.ParsePrefix(pattern); err == nil {
		return pfx.Contains(addr)
	}
	if a, err := netip.ParseAddr(pattern); err == nil {
		return a.Unmap() == addr
	}
	return wildcard(strings.ToLower(pattern), strings.ToLower(text))
}

// wildcard matches s against pattern where "*" is any run of characters
// and "?" any one (OpenSSH's match_pattern).
func wildcard(pattern, s string) bool {
	// Iterative, with backtracking to the last star only: linear in
	// practice, never exponential.
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// parseExpiry reads an expiry-time value: YYYYMMDD, YYYYMMDDHHMM or
// YYYYMMDDHHMMSS in loc, or in UTC with a trailing Z (OpenSSH's
// parse_absolute_time). A date alone means its midnight.
func parseExpiry(v string, loc *time.Location) (time.Time, error) {
	if s, ok := strings.CutSuffix(v, "Z"); ok {
		v, loc = s, time.UTC
	}
	var layout string
	switch len(v) {
	case 8:
		layout = "20060102"
	case 12:
		layout = "200601021504"
	case 14:
		layout = "20060102150405"
	default:
		return time.Time{}, errors.New("want YYYYMMDD[HHMM[SS]], optionally followed by Z for UTC")
	}
	if strings.Trim(v, "0123456789") != "" {
		return time.Time{}, errors.New("want YYYYMMDD[HHMM[SS]], optionally followed by Z for UTC")
	}
	t, err := time.ParseInLocation(layout, v, loc)
	if err != nil {
		return time.Time{}, errors.New("not a valid date and time")
	}
	return t, nil
}

// PartnerKeys are the authorized keys of a partner, for KeyConflicts.
type PartnerKeys struct {
	Partner string
	Keys    []AuthorizedKey
}

// KeyConflicts reports each public key that appears in the authorized keys
// of two partners, naming both partners and where: the key decides the
// partner, so it cannot be two. Nil when there is none.
func KeyConflicts(partners []PartnerKeys) error {
	type seen struct {
		partner string
		where   string
	}
	first := map[string]seen{}
	var errs []error
	for _, p := range partners {
		for _, k := range p.Keys {
			id := string(k.Key.Marshal())
			f, ok := first[id]
			if !ok {
				first[id] = seen{p.Partner, k.Where()}
				continue
			}
			if f.partner != p.Partner {
				errs = append(errs, fmt.Errorf("public key %s is authorized for two partners: %s (%s) and %s (%s)",
					ssh.FingerprintSHA256(k.Key), f.partner, f.where, p.Partner, k.Where()))
			}
		}
	}
	return errors.Join(errs...)
}
