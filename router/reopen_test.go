package router

import (
	"slices"
	"testing"

	"flowgate"
)

func TestAmountDiffs(t *testing.T) {
	cases := []struct {
		was, is string
		want    []string
	}{
		{"BT-109=200.40;BT-115=240.48", "BT-109=200.4;BT-115=240.480", nil},
		{"BT-109=200.40;BT-115=240.48", "BT-109=200.40;BT-113=0.00;BT-115=240.48", nil},
		{"BT-109=200.40;BT-115=240.48", "BT-109=200.40;BT-115=240.49", []string{"BT-115 240.48 ≠ 240.49"}},
		{"BT-112=240.48", "BT-113=10", []string{"BT-112 240.48 ≠ (absent)", "BT-113 (absent) ≠ 10"}},
		{"BT-115=abc", "BT-115=abc", nil},
		{"BT-115=abc", "BT-115=abd", []string{"BT-115 abc ≠ abd"}},
	}
	for _, c := range cases {
		if got := amountDiffs(c.was, c.is); !slices.Equal(got, c.want) {
			t.Errorf("%q → %q: %q, want %q", c.was, c.is, got, c.want)
		}
	}
}

func TestAmountsOf(t *testing.T) {
	amt := func(raw, cur string) flowgate.Amount { return flowgate.Amount{Present: true, Raw: raw, Currency: cur} }
	inv := &flowgate.Invoice{Currency: "EUR", TaxCurrency: "USD",
		Totals:    flowgate.MonetaryTotal{LineExtension: amt("200.40", "EUR"), Payable: amt("240.48", "EUR")},
		TaxTotals: []flowgate.TaxTotal{{TaxAmount: amt("40.08", "EUR")}, {TaxAmount: amt("45.00", "USD")}}}
	if got := amountsOf(inv); got != "BT-106=200.40;BT-110=40.08;BT-111=45.00;BT-115=240.48" {
		t.Errorf("amounts %q", got)
	}
}
