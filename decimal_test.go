package flowgate

import (
	"strings"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "12.50": "12.50", "-3.1": "-3.1", "+4": "4", ".5": "0.5", "5.": "5", " 7.25\n": "7.25",
		"-0.001": "-0.001", "123456789012345678901234567890.12": "123456789012345678901234567890.12",
	} {
		d, err := ParseDecimal(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseDecimal(%q) = %s, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"", ".", "-", "1e3", "1,5", "NaN", "1.2.3", "--1", "0x10", "١٢"} {
		if _, err := ParseDecimal(in); err == nil {
			t.Errorf("ParseDecimal(%q) accepted", in)
		}
	}
}

func TestDecimalArithmetic(t *testing.T) {
	d := MustDecimal
	if got := d("0.1").Add(d("0.2")); !got.Equal(d("0.3")) {
		t.Errorf("0.1+0.2 = %s", got)
	}
	if !d("1.50").Equal(d("1.5")) || d("1.5").Cmp(d("1.49")) != 1 || d("-2").Cmp(d("1")) != -1 {
		t.Error("comparison")
	}
	if got := d("10.00").Sub(d("0.005")); got.String() != "9.995" {
		t.Errorf("sub %s", got)
	}
	if got := d("1.5").Mul(d("-2.25")); got.String() != "-3.375" {
		t.Errorf("mul %s", got)
	}
	if d("-0.00").Sign() != 0 || d("-1").Sign() != -1 || d("0.01").Neg().String() != "-0.01" {
		t.Error("sign")
	}
}

// TestRound: XPath round() takes halves towards positive infinity.
func TestRound(t *testing.T) {
	for in, want := range map[string]string{
		"2.345": "2.35", "-2.345": "-2.34", "2.344": "2.34", "-2.346": "-2.35", "0.005": "0.01",
		"-0.005": "0.00", "1.2": "1.2", "99.995": "100.00", "-99.995": "-99.99",
	} {
		if got := MustDecimal(in).Round(2); got.String() != want {
			t.Errorf("Round(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestParseDecimalLongLiterals: xs:decimal has no length limit, and the
// official rules read "100.000…0" with 70 zeros as 100. Padding zeros of
// any length are read; the digits that count are bounded.
func TestParseDecimalLongLiterals(t *testing.T) {
	zeros := func(n int) string { return strings.Repeat("0", n) }
	for _, tc := range []struct {
		lit, want string // want "" means refused
	}{
		{"100." + zeros(70), "100"},
		{"-100." + zeros(70), "-100"},
		{zeros(70) + "42.5", "42.5"},
		{"1." + zeros(1<<20), "1"},
		{zeros(1<<20) + "." + zeros(1<<20), "0"},
		{"0." + zeros(999) + "1", "0." + zeros(999) + "1"},
		{"1" + zeros(999), "1" + zeros(999)},
		{"0." + zeros(1000) + "1", ""},
		{"1" + zeros(1000), ""},
		{"1." + zeros(70) + "x", ""},
		{"1." + zeros(70) + "-", ""},
	} {
		d, err := ParseDecimal(tc.lit)
		short := tc.lit
		if len(short) > 40 {
			short = short[:20] + "…" + short[len(short)-10:]
		}
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseDecimal(%q) = %s, want an error", short, d)
			}
			continue
		}
		if err != nil || !d.Equal(MustDecimal(tc.want)) {
			t.Errorf("ParseDecimal(%q) = %s, %v; want %s", short, d, err, tc.want)
		}
	}
	if d := MustDecimal("100." + zeros(70)); !d.Add(MustDecimal("0.01")).Round(2).Equal(MustDecimal("100.01")) {
		t.Errorf("arithmetic on a long literal: %s", d)
	}
}
