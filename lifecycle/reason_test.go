package lifecycle

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestReasonComment: a recipient's reason code becomes the comment, with
// its text or its label, and reads back; a code alone satisfies the
// comment rule of 04, 05 and 06.
func TestReasonComment(t *testing.T) {
	long := strings.Repeat("é", MaxComment-5)
	for _, c := range []struct{ code, text, want string }{
		{"TX_TVA_ERR", "Taux de TVA erroné", "TX_TVA_ERR : Taux de TVA erroné"},
		{" TX_TVA_ERR ", "", "TX_TVA_ERR : Taux de TVA erroné"},
		{"JUSTIF_ABS", " pièces manquantes ", "JUSTIF_ABS : pièces manquantes"},
		{"", "texte seul", "texte seul"},
		{"XYZ", "", "XYZ"},
		{"XYZ", "t", "XYZ : t"},
		{"", "", ""},
		{"CMD_ERR", long, "CMD_ERR : " + string([]rune(long)[:MaxComment-len("CMD_ERR : ")-1]) + "…"},
	} {
		got := ReasonComment(c.code, c.text)
		if got != c.want {
			t.Errorf("ReasonComment(%q, %q) = %q, want %q", c.code, c.text, got, c.want)
		}
		if n := utf8.RuneCountInString(got); n > MaxComment {
			t.Errorf("ReasonComment(%q, %q): %d characters", c.code, c.text, n)
		}
	}
	// A text already over the limit is left whole, for Apply to refuse.
	if got := ReasonComment("CMD_ERR", strings.Repeat("x", MaxComment+1)); utf8.RuneCountInString(got) <= MaxComment {
		t.Errorf("a text over %d characters was cut: %d", MaxComment, utf8.RuneCountInString(got))
	}
	for _, s := range []string{Rejected, Suspended, Recycle} {
		next, f := Apply(Available, Update{Status: s, Comment: ReasonComment("DOUBLON", ""), By: ByRecipient})
		if next != s || len(f) != 0 {
			t.Errorf("%s with a reason code alone: %s %v", s, next, f)
		}
	}

	for _, c := range []struct {
		comment, code, text string
		ok                  bool
	}{
		{"TX_TVA_ERR : Taux de TVA erroné", "TX_TVA_ERR", "Taux de TVA erroné", true},
		{"TX_TVA_ERR", "TX_TVA_ERR", "Taux de TVA erroné", true},
		{" JUSTIF_ABS : a : b ", "JUSTIF_ABS", "a : b", true},
		{"XYZ : t", "", "", false},
		{"TX_TVA_ERR: collé", "", "", false},
		{"pièces manquantes", "", "", false},
		{"", "", "", false},
	} {
		code, text, ok := SplitReason(c.comment)
		if code != c.code || text != c.text || ok != c.ok {
			t.Errorf("SplitReason(%q) = %q %q %v, want %q %q %v", c.comment, code, text, ok, c.code, c.text, c.ok)
		}
	}
}

// TestRecipient03: what the README says of a recipient's 03: applied from
// 05, CPP-STATUT-TRANSITION from any other status, CPP-STATUT-INCHANGE
// (applied, nothing changes) on an invoice already at 03.
func TestRecipient03(t *testing.T) {
	for _, from := range Codes() {
		next, f := Apply(from, Update{Status: Available, By: ByRecipient})
		var want string
		switch from {
		case Rejected:
			want = ""
		case Available:
			want = CodeUnchanged
		default:
			want = CodeTransition
		}
		got := ""
		if len(f) > 0 {
			got = f[0].Code
		}
		if got != want || len(f) > 1 || (from == Rejected) != (next == Available && from != Available) {
			t.Errorf("03 from %s: %s %v, want %q", from, next, f, want)
		}
	}
}
