package flowgate

import (
	"errors"
	"math/big"
	"strings"
)

// Decimal is an exact decimal number: Coef × 10^-Scale. Amounts in invoices
// are decimals, never binary floating point, so that 0.1 + 0.2 == 0.3 and
// totals compare exactly as EN 16931 requires.
//
// The zero value is 0. A Decimal is immutable: operations return new values.
type Decimal struct {
	coef  *big.Int // nil means 0
	scale int32
}

// ErrDecimal reports a string that is not an xs:decimal literal.
var ErrDecimal = errors.New("not a decimal number")

// maxDecimalDigits bounds the digits of a literal that count: no real
// amount comes near, and it keeps the arithmetic on hostile input cheap
// (coefficients of at most 1,000 digits, scales of at most 1,000). A longer
// literal is read when its leading zeros (integer part) and trailing zeros
// (fraction) are what makes it longer: "100.000…0" with 70 or a million
// zeros is 100, as XPath's xs:decimal reads it.
const maxDecimalDigits = 1000

// ParseDecimal reads an xs:decimal literal: optional sign, digits, optional
// fraction; leading and trailing XML whitespace is ignored (the schema type
// collapses it). Exponents, "NaN" and thousands separators are refused, and
// so is a literal of more than maxDecimalDigits digits once its leading
// zeros and its fraction's trailing zeros are dropped (they are dropped only
// from a literal longer than that, which then keeps no trailing zero in
// Places and String). Its cost is linear in the length of s.
func ParseDecimal(s string) (Decimal, error) {
	s = strings.Trim(s, " \t\r\n")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return Decimal{}, ErrDecimal
	}
	if len(intPart)+len(frac) > maxDecimalDigits {
		if strings.Trim(intPart+frac, "0123456789") != "" {
			return Decimal{}, ErrDecimal
		}
		intPart = strings.TrimLeft(intPart, "0")
		frac = strings.TrimRight(frac, "0")
		if len(intPart)+len(frac) > maxDecimalDigits {
			return Decimal{}, ErrDecimal
		}
		if intPart == "" && frac == "" {
			intPart = "0"
		}
	}
	var v uint64
	small := len(intPart)+len(frac) <= 18
	for _, part := range [2]string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c < '0' || c > '9' {
				return Decimal{}, ErrDecimal
			}
			if small {
				v = v*10 + uint64(c-'0')
			}
		}
	}
	coef := new(big.Int)
	if small {
		coef.SetUint64(v)
	} else if _, ok := coef.SetString(intPart+frac, 10); !ok {
		return Decimal{}, ErrDecimal
	}
	if neg {
		coef.Neg(coef)
	}
	return Decimal{coef: coef, scale: int32(len(frac))}, nil
}

// MustDecimal is ParseDecimal for literals in code and tests; it panics on a bad literal.
func MustDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic("flowgate: bad decimal literal " + s)
	}
	return d
}

// DecimalFromInt returns n as a Decimal.
func DecimalFromInt(n int64) Decimal {
	return Decimal{coef: big.NewInt(n)}
}

func (d Decimal) int() *big.Int {
	if d.coef == nil {
		return new(big.Int)
	}
	return d.coef
}

// rescale returns d's coefficient at a larger scale.
func (d Decimal) rescale(scale int32) *big.Int {
	c := new(big.Int).Set(d.int())
	if scale > d.scale {
		c.Mul(c, pow10(scale-d.scale))
	}
	return c
}

func pow10(n int32) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// align returns both coefficients at the larger of the two scales.
func align(a, b Decimal) (*big.Int, *big.Int, int32) {
	s := max(a.scale, b.scale)
	return a.rescale(s), b.rescale(s), s
}

// Add returns d + e.
func (d Decimal) Add(e Decimal) Decimal {
	x, y, s := align(d, e)
	return Decimal{coef: x.Add(x, y), scale: s}
}

// Sub returns d - e.
func (d Decimal) Sub(e Decimal) Decimal {
	x, y, s := align(d, e)
	return Decimal{coef: x.Sub(x, y), scale: s}
}

// Mul returns d × e.
func (d Decimal) Mul(e Decimal) Decimal {
	return Decimal{coef: new(big.Int).Mul(d.int(), e.int()), scale: d.scale + e.scale}
}

// Cmp compares d and e numerically: -1, 0 or +1. 1.50 equals 1.5.
func (d Decimal) Cmp(e Decimal) int {
	x, y, _ := align(d, e)
	return x.Cmp(y)
}

// Equal reports whether d and e are numerically equal.
func (d Decimal) Equal(e Decimal) bool { return d.Cmp(e) == 0 }

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int { return d.int().Sign() }

// Neg returns -d.
func (d Decimal) Neg() Decimal { return Decimal{coef: new(big.Int).Neg(d.int()), scale: d.scale} }

// Round returns d rounded to places fractional digits, halves rounded
// towards positive infinity: the semantics of XPath's round(), which the
// EN 16931 Schematron applies as round(x * 100) div 100. So 2.345 → 2.35 and
// -2.345 → -2.34.
func (d Decimal) Round(places int32) Decimal {
	if d.scale <= places {
		return d
	}
	div := pow10(d.scale - places)
	// floor((coef*2 + div) / (2*div)) = floor(coef/div + 1/2)
	n := new(big.Int).Lsh(d.int(), 1)
	n.Add(n, div)
	den := new(big.Int).Lsh(div, 1)
	q, _ := new(big.Int).DivMod(n, den, new(big.Int)) // Euclidean: q is the floor
	return Decimal{coef: q, scale: places}
}

// Places returns the number of fractional digits as written (1.50 has 2;
// see ParseDecimal for literals of more than maxDecimalDigits digits).
func (d Decimal) Places() int32 { return d.scale }

// String formats d with its own scale, without exponent: "-12.50".
func (d Decimal) String() string {
	c := d.int()
	neg := c.Sign() < 0
	digits := new(big.Int).Abs(c).String()
	if d.scale > 0 {
		if pad := int(d.scale) + 1 - len(digits); pad > 0 {
			digits = strings.Repeat("0", pad) + digits
		}
		cut := len(digits) - int(d.scale)
		digits = digits[:cut] + "." + digits[cut:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}
