package lifecycle

import (
	"strings"
	"testing"

	"flowgate"
)

// The table of issue 9, written out again on its own so that a change to
// the package's table shows here.
var wantRecipient = map[string]string{
	"03": "04 05 06 07 08 09 10 11",
	"12": "04 05 06 07 08 09 10 11",
	"07": "04 05 06 08 09 10 11",
	"08": "09 10 11",
	"09": "10 11",
	"10": "11",
	"05": "03 04 06 08 10 11",
	"06": "04 05",
}

var wantHub = map[string]string{
	"":   "01",
	"01": "02 03",
	"02": "03",
	"04": "01",
	"06": "12",
}

var statuses = []string{"01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"}

func codes(f []flowgate.Finding) string {
	var out []string
	for _, x := range f {
		out = append(out, x.Code+"/"+string(x.Severity))
	}
	return strings.Join(out, ",")
}

// TestEveryCell walks every cell of the table, for both actors: from
// every status (and, for the hub, from none) to every status and to codes
// that are not statuses.
func TestEveryCell(t *testing.T) {
	targets := append(append([]string{}, statuses...), "00", "13", "41", "", "3", "AB", "03 ")
	for _, by := range []Actor{ByRecipient, ByHub} {
		froms, want := statuses, wantRecipient
		if by == ByHub {
			froms, want = append([]string{""}, statuses...), wantHub
		}
		for _, from := range froms {
			for _, to := range targets {
				next, f := Apply(from, Update{Status: to, Comment: "motif", By: by})
				code := strings.TrimSpace(to)
				var wantNext, wantCodes string
				known := Label(code) != ""
				hubCode := code == "01" || code == "02" || code == "03" || code == "12"
				switch {
				case !known:
					wantNext, wantCodes = from, CodeStatus+"/fatal"
				case by == ByRecipient && (code == "01" || code == "02" || code == "12"):
					wantNext, wantCodes = from, CodeStatus+"/fatal"
				case by == ByHub && !hubCode:
					wantNext, wantCodes = from, CodeStatus+"/fatal"
				case code == from:
					wantNext, wantCodes = from, CodeUnchanged+"/warning"
				case strings.Contains(" "+want[from]+" ", " "+code+" "):
					wantNext, wantCodes = code, ""
				default:
					wantNext, wantCodes = from, CodeTransition+"/fatal"
				}
				if next != wantNext || codes(f) != wantCodes {
					t.Errorf("%s: %q → %q: got %q [%s], want %q [%s]", by, from, to, next, codes(f), wantNext, wantCodes)
				}
				if got := Allowed(from, code, by); got != (wantCodes == "") {
					t.Errorf("%s: Allowed(%q, %q) = %v", by, from, code, got)
				}
			}
		}
	}
}

func TestTransitionNamesBoth(t *testing.T) {
	_, f := Apply("11", Update{Status: "07", By: ByRecipient})
	if len(f) != 1 || !strings.Contains(f[0].MessageFR, "11 (Mise en paiement)") || !strings.Contains(f[0].MessageFR, "07 (Service fait)") ||
		!strings.Contains(f[0].Message, "11 (Mise en paiement)") {
		t.Fatalf("findings %+v", f)
	}
}

func TestComment(t *testing.T) {
	long := strings.Repeat("é", MaxComment)
	cases := []struct {
		to, comment string
		want        string
	}{
		{"04", "", CodeComment + "/fatal"},
		{"05", "  ", CodeComment + "/fatal"},
		{"06", "", CodeComment + "/fatal"},
		{"06", long, ""},
		{"06", long + "x", CodeComment + "/fatal"},
		{"04", "x", ""},
		{"07", "", ""},
		{"07", long + "x", CodeComment + "/fatal"},
		{"11", "payée par prélèvement", ""},
	}
	for _, c := range cases {
		next, f := Apply("03", Update{Status: c.to, Comment: c.comment, By: ByRecipient})
		if codes(f) != c.want {
			t.Errorf("03 → %s comment %d chars: %s, want %s", c.to, len([]rune(c.comment)), codes(f), c.want)
		}
		if (c.want == "") != (next == c.to) {
			t.Errorf("03 → %s: next %s", c.to, next)
		}
	}
}

func TestMandate(t *testing.T) {
	if next, f := Apply("03", Update{Status: "08", Mandate: "M-42", By: ByRecipient}); next != "08" || len(f) != 0 {
		t.Errorf("08 with a mandate: %s %s", next, codes(f))
	}
	if next, f := Apply("03", Update{Status: "07", Mandate: "M-42", By: ByRecipient}); next != "07" || codes(f) != CodeMandate+"/warning" {
		t.Errorf("07 with a mandate: %s %s", next, codes(f))
	}
}

func TestLabels(t *testing.T) {
	if len(Codes()) != 12 || Codes()[0] != "01" || Codes()[11] != "12" {
		t.Fatalf("codes %v", Codes())
	}
	for _, c := range statuses {
		if Label(c) == "" {
			t.Errorf("no label for %s", c)
		}
	}
	if Label("05") != "Rejetée" || Label("13") != "" {
		t.Error("labels")
	}
}
