package router

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"flowgate"
	"flowgate/lifecycle"
	"flowgate/parser"
	"flowgate/store"
	"flowgate/validator"
)

// Re-deposits of an accepted number (issue 9, items 5 to 7; DOMAIN.md §7).
//
// An invoice the recipient sent back "à recycler" (04) or suspended (06)
// is deposited again by its supplier under the same number. The duplicate
// check lets it through (history.Seen), then reopen compares it to the
// invoice waiting: only the recipient SIRET, service code and engagement
// may change for a recycle; for a completion, neither may the recipient.
// The issue date, type code, currency and totals (BT-106 to BT-115) must
// be the same, or it is rejected (CPP-RECYCLAGE-MODIFIE,
// CPP-COMPLEMENT-MODIFIE, naming what differs). A recycled invoice is
// routed afresh and becomes 01 then 03, its first route kept in its story;
// a completed one becomes 12 and is delivered again to the same recipient.
// Any other re-deposit of an accepted number stays CPP-DOUBLON and never
// touches the original; when its content differs from the original's, the
// finding says so, for a person to look.

// Codes of a re-deposit that changed what it may not.
const (
	CodeRecycleChanged  = "CPP-RECYCLAGE-MODIFIE"
	CodeCompleteChanged = "CPP-COMPLEMENT-MODIFIE"
)

// totalTerms are the document totals a recycled or completed invoice
// keeps, in the order they are named.
var totalTerms = []string{"BT-106", "BT-107", "BT-108", "BT-109", "BT-110", "BT-111", "BT-112", "BT-113", "BT-114", "BT-115"}

// amountsOf writes an invoice's totals as recorded in the store:
// "BT-106=200.40;BT-109=200.40;..." for those present, as written but for
// surrounding white space (the hub's reading, flowgate.Trimmed).
func amountsOf(inv *flowgate.Invoice) string {
	t := inv.Totals
	vals := map[string]flowgate.Amount{"BT-106": t.LineExtension, "BT-107": t.AllowanceTotal, "BT-108": t.ChargeTotal,
		"BT-109": t.TaxExclusive, "BT-112": t.TaxInclusive, "BT-113": t.Prepaid, "BT-114": t.Rounding, "BT-115": t.Payable}
	currency, taxCurrency := flowgate.Trimmed(inv.Currency), flowgate.Trimmed(inv.TaxCurrency)
	for _, tt := range inv.TaxTotals {
		switch c := flowgate.Trimmed(tt.TaxAmount.Currency); {
		case c == currency || c == "":
			if !vals["BT-110"].Present {
				vals["BT-110"] = tt.TaxAmount
			}
		case c == taxCurrency:
			if !vals["BT-111"].Present {
				vals["BT-111"] = tt.TaxAmount
			}
		}
	}
	var parts []string
	for _, term := range totalTerms {
		if a := vals[term]; a.Present {
			parts = append(parts, term+"="+strings.NewReplacer(";", "", "=", "").Replace(flowgate.Trimmed(a.Raw)))
		}
	}
	return strings.Join(parts, ";")
}

// amountDiffs names the totals that differ between two amountsOf strings,
// as "BT-115 240.48 ≠ 250.00"; an absent total counts as zero.
func amountDiffs(was, is string) []string {
	parse := func(s string) map[string]string {
		m := map[string]string{}
		for _, kv := range strings.Split(s, ";") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				m[k] = v
			}
		}
		return m
	}
	a, b := parse(was), parse(is)
	var out []string
	for _, term := range totalTerms {
		x, y := a[term], b[term]
		if sameAmount(x, y) {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s ≠ %s", term, orNone(x), orNone(y)))
	}
	return out
}

func sameAmount(x, y string) bool {
	if x == y {
		return true
	}
	dx, ex := flowgate.ParseDecimal(orZero(x))
	dy, ey := flowgate.ParseDecimal(orZero(y))
	return ex == nil && ey == nil && dx.Equal(dy)
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(absent)"
	}
	return clipName(s, 40)
}

// reopenDiffs names what a re-deposit changed that it may not: issue
// date, type code, currency, totals, and for a completion the recipient.
// Values are read as the hub reads them (flowgate.Trimmed).
func reopenDiffs(orig store.Invoice, inv *flowgate.Invoice, line *flowgate.InvoiceReport) []string {
	var diffs []string
	if date := flowgate.Trimmed(inv.IssueDate); orig.IssueDate != "" && orig.IssueDate != date {
		diffs = append(diffs, fmt.Sprintf("BT-2 %s ≠ %s", orig.IssueDate, clipName(date, 40)))
	}
	if typeCode := flowgate.Trimmed(inv.TypeCode); orig.TypeCode != "" && orig.TypeCode != typeCode {
		diffs = append(diffs, fmt.Sprintf("BT-3 %s ≠ %s", orig.TypeCode, clipName(typeCode, 40)))
	}
	if currency := flowgate.Trimmed(inv.Currency); orig.Currency != "" && orig.Currency != currency {
		diffs = append(diffs, fmt.Sprintf("BT-5 %s ≠ %s", orig.Currency, clipName(currency, 40)))
	}
	if orig.Amounts != "" {
		diffs = append(diffs, amountDiffs(orig.Amounts, amountsOf(inv))...)
	}
	if orig.Status == lifecycle.Suspended && orig.RecipientSIRET != line.RecipientSIRET {
		diffs = append(diffs, fmt.Sprintf("BT-46 %s ≠ %s", orig.RecipientSIRET, line.RecipientSIRET))
	}
	return diffs
}

// reopen judges an entry against the invoice its number reopens, if any,
// before the plan takes it: a re-deposit that changed what it may not is
// rejected (its line changed in place: the flow's report reads it). It
// returns the invoice reopened when the entry is accepted as its recycle
// or completion. A CPP-DOUBLON whose content differs from the original's
// says so in its finding.
func (b *planBuilder) reopen(e parser.Entry, line *flowgate.InvoiceReport) (store.Invoice, bool) {
	if line == nil || e.Invoice == nil || b.hist == nil {
		return store.Invoice{}, false
	}
	key, ok := validator.KeyOf(e.Invoice)
	if !ok {
		return store.Invoice{}, false
	}
	if line.Verdict != flowgate.Accepted {
		if orig, ok := b.hist.orig[key]; ok {
			b.doubtDuplicate(orig, e.Invoice, line)
		}
		return store.Invoice{}, false
	}
	orig, ok := b.hist.reopen[key]
	if !ok {
		return store.Invoice{}, false
	}
	delete(b.hist.reopen, key)
	diffs := reopenDiffs(orig, e.Invoice, line)
	if len(diffs) == 0 {
		return orig, true
	}
	code, fr, en := CodeRecycleChanged, "recyclée (04)", "to recycle (04)"
	may := "seuls le SIRET du destinataire, le code service et l'engagement peuvent changer"
	mayEN := "only the recipient SIRET, service code and engagement may change"
	if orig.Status == lifecycle.Suspended {
		code, fr, en = CodeCompleteChanged, "suspendue (06)", "suspended (06)"
		may, mayEN = "seules les pièces jointes peuvent s'ajouter", "only attachments may be added"
	}
	list := strings.Join(diffs, ", ")
	line.Findings = append(line.Findings, flowgate.Finding{Code: code, Severity: flowgate.Fatal, Field: "BT-1", Value: line.Number,
		MessageFR: fmt.Sprintf("La facture %s, %s, est redéposée modifiée (%s) : %s ; sinon, avoir et nouvelle facture.", quoteNumber(line.Number), fr, list, may),
		Message:   fmt.Sprintf("Invoice %s, %s, was deposited again changed (%s): %s; otherwise, a credit note and a new invoice.", quoteNumber(line.Number), en, list, mayEN)})
	line.Verdict = flowgate.Rejected
	// Not accepted after all: a corrected deposit in the same round may
	// still reopen the invoice.
	delete(b.hist.mem, key)
	b.hist.reopen[key] = orig
	return store.Invoice{}, false
}

// doubtDuplicate adds to a CPP-DOUBLON finding that the duplicate's
// content differs from the original's (other amounts or recipient): a
// person must look.
func (b *planBuilder) doubtDuplicate(orig store.Invoice, inv *flowgate.Invoice, line *flowgate.InvoiceReport) {
	for i := range line.Findings {
		f := &line.Findings[i]
		if f.Code != "CPP-DOUBLON" {
			continue
		}
		var fr, en []string
		if d := amountDiffs(orig.Amounts, amountsOf(inv)); orig.Amounts != "" && len(d) > 0 {
			fr = append(fr, "montants différents ("+strings.Join(d, ", ")+")")
			en = append(en, "different amounts ("+strings.Join(d, ", ")+")")
		}
		if orig.RecipientSIRET != line.RecipientSIRET {
			fr = append(fr, "destinataire différent ("+orig.RecipientSIRET+" ≠ "+line.RecipientSIRET+")")
			en = append(en, "different recipient ("+orig.RecipientSIRET+" ≠ "+line.RecipientSIRET+")")
		}
		if len(fr) > 0 {
			f.MessageFR += " Même numéro, " + strings.Join(fr, ", ") + " : à vérifier par une personne."
			f.Message += " Same number, " + strings.Join(en, ", ") + ": a person must look."
		}
		return
	}
}

// CodeCreditUnknown (a warning): a credit note names no invoice the hub
// knows of the same supplier and recipient; it is accepted all the same
// (the invoice may predate the hub).
const CodeCreditUnknown = "CPP-AVOIR-FACTURE-INCONNUE"

// linkCredit links an accepted credit note (381) to the invoice its BT-25
// names, of the same supplier and recipient, delivered by the hub before
// (row.Credits, row.CreditsDate; `invoice show` tells both sides), or
// warns that it names none the hub knows. A number may come back in
// another year: with BT-26 (the invoice's issue date) the link is to the
// invoice of that date; without it, to the only invoice of that number,
// and to none, saying so in the warning, when the hub knows several (of
// different issue dates; a recycled invoice deposited again is one).
func (b *planBuilder) linkCredit(inv *flowgate.Invoice, line *flowgate.InvoiceReport, row *store.Invoice) {
	if b.hist == nil || line.TypeCode != "381" {
		return
	}
	var named, namedEN, ids, several, severalEN []string
	for _, ref := range inv.Preceding {
		// The hub's reading: without surrounding white space.
		id, date := flowgate.Trimmed(ref.ID), flowgate.Trimmed(ref.IssueDate)
		if id == "" {
			continue
		}
		if _, err := time.Parse(time.DateOnly, date); err != nil {
			date = ""
		}
		name, nameEN := quoteNumber(id), quoteNumber(id)
		if date != "" {
			name, nameEN = name+" du "+date, nameEN+" of "+date
		}
		named, namedEN, ids = append(named, name), append(namedEN, nameEN), append(ids, id)
		invs, err := b.hist.store.Delivered(b.hist.ctx, line.SupplierSIRET, id, date)
		if err != nil {
			if b.hist.err == nil {
				b.hist.err = err
			}
			return
		}
		var found []store.Invoice // one per issue date, newest deposit first
		for _, orig := range invs {
			if orig.RecipientSIRET == line.RecipientSIRET && orig.TypeCode != "381" &&
				!slices.ContainsFunc(found, func(f store.Invoice) bool { return f.IssueDate == orig.IssueDate }) {
				found = append(found, orig)
			}
		}
		switch len(found) {
		case 0:
			continue
		case 1:
			row.Credits, row.CreditsDate = found[0].Number, found[0].IssueDate
			return
		}
		var dates []string
		for _, f := range found {
			dates = append(dates, cmp.Or(f.IssueDate, "?"))
		}
		slices.Sort(dates)
		several = append(several, fmt.Sprintf("%s (émises le %s)", quoteNumber(id), strings.Join(dates, ", ")))
		severalEN = append(severalEN, fmt.Sprintf("%s (issued %s)", quoteNumber(id), strings.Join(dates, ", ")))
	}
	f := flowgate.Finding{Code: CodeCreditUnknown, Severity: flowgate.Warning, Field: "BT-25", Value: clipName(strings.Join(ids, " "), 100)}
	if len(several) > 0 {
		f.Field = "BT-26"
		f.MessageFR = fmt.Sprintf("L'avoir cite la facture %s sans sa date (BT-26), et la plateforme en connaît plusieurs de ce numéro pour ce fournisseur et ce destinataire : il est accepté sans lien.", strings.Join(several, ", "))
		f.Message = fmt.Sprintf("The credit note names invoice %s without its date (BT-26), and the hub knows several of that number for this supplier and recipient: accepted without a link.", strings.Join(severalEN, ", "))
	} else {
		f.MessageFR = fmt.Sprintf("L'avoir cite la facture %s, que la plateforme ne connaît pas pour ce fournisseur et ce destinataire (antérieure à la plateforme ?) : il est accepté sans lien.", strings.Join(named, ", "))
		f.Message = fmt.Sprintf("The credit note names invoice %s, which the hub does not know for this supplier and recipient (older than the hub?): accepted without a link.", strings.Join(namedEN, ", "))
	}
	line.Findings = append(line.Findings, f)
}
