package validator

import (
	"cmp"
	"strconv"
	"strings"

	"flowgate"
)

// hit is one failure of a rule: the value its finding quotes and where in
// the document it failed. It holds what the check already has at hand
// (pointers, positions, literals): the sentences that say where and what
// are only written for the findings kept (see findings.keeps), so that a
// rule failing on 100,000 lines costs no message per line past the caps.
type hit struct {
	// value is the value, as written, of the business term the finding
	// names (the rule's Field, or field): empty when that term is absent.
	value string
	// field is the business term when it is not the rule's own, as BR-CO-09
	// on the buyer's VAT identifier (BT-48) rather than the seller's (BT-31).
	field string
	// at says what pos counts; pos is the position, from 1, of the line,
	// allowance, charge, VAT breakdown or payment instruction concerned.
	at  place
	pos int
	// line is the line concerned when at is onLine, onLineAllowance or
	// onLineCharge; sub is then the position of the allowance or charge
	// among the line's allowances or charges.
	line *flowgate.Line
	sub  int
	// ac, st and pm are the document level allowance or charge, the VAT
	// breakdown and the payment instruction concerned, by at.
	ac *flowgate.AllowanceCharge
	st *flowgate.TaxSubtotal
	pm *flowgate.PaymentMeans
	// group names the repeated group pos counts when at is onGroup.
	group *repeated
	// cat is the VAT category a rule found missing: when it has a code
	// under another tax scheme than VAT, the message says so.
	cat *flowgate.TaxCategory
	// note says where when no position does (a constant sentence).
	note text
	// detail, when set, says what was found: declared and computed
	// amounts, or the value of another term the rule depends on.
	detail func() text
}

// place is what a hit's position counts.
type place uint8

const (
	onDocument place = iota
	onLine
	onLineAllowance
	onLineCharge
	onAllowance
	onCharge
	onBreakdown
	onPayment
	onGroup
)

// repeated is a repeated group a rule may fail on, named in both languages.
type repeated struct{ fr, en, bg string }

var (
	precedingGroup = &repeated{"Référence à une facture antérieure", "Preceding invoice reference", "BG-3"}
	periodGroup    = &repeated{"Période de facturation", "Invoicing period", "BG-14"}
	deliveryGroup  = &repeated{"Adresse de livraison", "Deliver to address", "BG-15"}
)

// text is a sentence in French and in English.
type text struct{ fr, en string }

// finding is the finding of rule r for h, its messages saying where and
// what as h tells.
func (r *Rule) finding(h hit) flowgate.Finding {
	f := flowgate.Finding{Code: r.ID, Severity: flowgate.Fatal, Field: cmp.Or(h.field, r.Field),
		Value: h.value, MessageFR: r.FR, Message: r.EN, Position: h.pos}
	if h.line != nil {
		f.Line = clipValue(h.line.ID)
	}
	for _, t := range []text{h.where(), h.note, h.scheme()} {
		f.MessageFR, f.Message = addSentence(f.MessageFR, t.fr), addSentence(f.Message, t.en)
	}
	if h.detail != nil {
		t := h.detail()
		f.MessageFR, f.Message = addSentence(f.MessageFR, t.fr), addSentence(f.Message, t.en)
	}
	return f
}

// addSentence appends sentence s to message m, which ends with a full stop
// (added when the official text has none); an empty s leaves m as it is.
func addSentence(m, s string) string {
	if s == "" {
		return m
	}
	if !strings.HasSuffix(m, ".") {
		m += "."
	}
	return m + " " + s + "."
}

// where says which occurrence h is on, quoting its identifying values cut
// to MaxValue: « Ligne en position 2 (BT-126 « 10 ») ».
func (h *hit) where() text {
	switch h.at {
	case onLine:
		return lineText(h.pos, h.line)
	case onLineAllowance, onLineCharge:
		l := lineText(h.pos, h.line)
		n := strconv.Itoa(h.sub)
		if h.at == onLineAllowance {
			return text{l.fr + ", remise en position " + n + " de la ligne (BG-27)",
				l.en + ", line allowance at position " + n + " (BG-27)"}
		}
		return text{l.fr + ", charge en position " + n + " de la ligne (BG-28)",
			l.en + ", line charge at position " + n + " (BG-28)"}
	case onAllowance, onCharge:
		fr, en := "Remise du document en position ", "Document level allowance at position "
		bg, bt := "BG-20", "BT-92"
		if h.at == onCharge {
			fr, en = "Charge du document en position ", "Document level charge at position "
			bg, bt = "BG-21", "BT-99"
		}
		n := strconv.Itoa(h.pos)
		if !h.ac.Amount.Present {
			return text{fr + n + " (" + bg + ")", en + n + " (" + bg + ")"}
		}
		a := clipValue(h.ac.Amount.Raw)
		return text{fr + n + " (" + bg + ", montant " + bt + " « " + a + " »)",
			en + n + " (" + bg + ", amount " + bt + " '" + a + "')"}
	case onBreakdown:
		n := strconv.Itoa(h.pos)
		var fr, en []string
		if h.st.Category != "" {
			c := clipValue(h.st.Category)
			fr, en = append(fr, "catégorie BT-118 « "+c+" »"), append(en, "category BT-118 '"+c+"'")
		}
		if h.st.HasPercent {
			p := clipValue(h.st.Percent)
			fr, en = append(fr, "taux BT-119 « "+p+" »"), append(en, "rate BT-119 '"+p+"'")
		}
		return text{"Détail de TVA en position " + n + " (" + strings.Join(append([]string{"BG-23"}, fr...), ", ") + ")",
			"VAT breakdown at position " + n + " (" + strings.Join(append([]string{"BG-23"}, en...), ", ") + ")"}
	case onPayment:
		n := strconv.Itoa(h.pos)
		if !h.pm.HasCode {
			return text{"Instruction de paiement en position " + n + " (BG-16)", "Payment instruction at position " + n + " (BG-16)"}
		}
		c := clipValue(h.pm.Code)
		return text{"Instruction de paiement en position " + n + " (BG-16, code BT-81 « " + c + " »)",
			"Payment instruction at position " + n + " (BG-16, means code BT-81 '" + c + "')"}
	case onGroup:
		n := strconv.Itoa(h.pos)
		return text{h.group.fr + " en position " + n + " (" + h.group.bg + ")", h.group.en + " at position " + n + " (" + h.group.bg + ")"}
	}
	return text{}
}

// scheme says, for a VAT category given under another tax scheme than
// VAT, which scheme it is under.
func (h *hit) scheme() text {
	c := h.cat
	if c == nil || !c.HasID || isVAT(c.TaxScheme) {
		return text{}
	}
	id, ts := clipValue(c.ID), clipValue(c.TaxScheme)
	return text{"La catégorie « " + id + " » y est donnée sous le schéma fiscal « " + ts + " » (cac:TaxScheme/cbc:ID), et non VAT",
		"Category '" + id + "' is given there under tax scheme '" + ts + "' (cac:TaxScheme/cbc:ID), not VAT"}
}

// lineText names the line at position pos: its position and its BT-126.
func lineText(pos int, l *flowgate.Line) text {
	n := strconv.Itoa(pos)
	if blank(l.ID) {
		return text{"Ligne en position " + n + " (sans identifiant BT-126)", "Line at position " + n + " (no BT-126 identifier)"}
	}
	id := clipValue(l.ID)
	return text{"Ligne en position " + n + " (BT-126 « " + id + " »)", "Line at position " + n + " (BT-126 '" + id + "')"}
}

// computed is an amount a rule computes from others, or why it cannot:
// one of them is absent or not a decimal.
type computed struct {
	v   flowgate.Decimal
	ok  bool
	why text
}

// notComputable is the computed amount that term bt, the amount a at
// position pos of its group (0: a single amount), prevents.
func notComputable(bt string, a flowgate.Amount, pos int) computed {
	at := text{bt, bt}
	if pos > 0 {
		at = text{bt + " en position " + strconv.Itoa(pos), bt + " at position " + strconv.Itoa(pos)}
	}
	if !a.Present {
		return computed{why: text{at.fr + " absent", at.en + " is missing"}}
	}
	raw := clipValue(a.Raw)
	return computed{why: text{"« " + raw + " » (" + at.fr + ") n'est pas un nombre décimal",
		"'" + raw + "' (" + at.en + ") is not a decimal"}}
}

// sumOf is sum2 of amounts, the values of term bt, or why it cannot be
// computed.
func sumOf(bt string, amounts []flowgate.Amount) computed {
	if s, ok := sum2(amounts); ok {
		return computed{v: s, ok: true}
	}
	for i, a := range amounts {
		if a.Present && !a.OK {
			return notComputable(bt, a, i+1)
		}
	}
	return computed{why: text{"montant invalide", "invalid amount"}}
}

// declared quotes amount a as written, cut to MaxValue.
func declared(a flowgate.Amount) text {
	switch {
	case !a.Present:
		return text{"absent", "missing"}
	case !a.OK:
		raw := clipValue(a.Raw)
		return text{"« " + raw + " » (pas un nombre décimal)", "'" + raw + "' (not a decimal)"}
	}
	raw := clipValue(a.Raw)
	return text{raw, raw}
}

// sumDetail is the detail of a rule on a sum: the amount of term bt as
// declared and the amount computed, described by what (a phrase ending
// with its participle: « somme des lignes (Σ BT-131) calculée »):
// « BT-106 déclaré 240.00, somme des lignes (Σ BT-131) calculée 250.00 ».
func sumDetail(bt string, a flowgate.Amount, what text, c computed) text {
	d := declared(a)
	fr, en := bt+" déclaré "+d.fr+", "+what.fr, bt+" declared "+d.en+", "+what.en
	if !a.Present {
		fr, en = bt+" absent, "+what.fr, bt+" missing, "+what.en
	}
	if !c.ok {
		return text{fr + " : impossible, " + c.why.fr, en + ": impossible, " + c.why.en}
	}
	s := clipValue(c.v.String())
	return text{fr + " " + s, en + " " + s}
}
