package parser

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"flowgate"
)

// facturXNames are the names under which Factur-X and ZUGFeRD 2.x PDFs
// embed their CII invoice (compared without case: ZUGFeRD 2.0 wrote both
// spellings of its own).
var facturXNames = []string{"factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml"}

// pdfLimits bound what pdfcpu may allocate for one PDF, whatever the file
// declares: no stream, encoded or decoded, past MaxDocumentSize (20 MiB),
// so that an object stream or an embedded file that inflates 1,000:1 is
// stopped there; object counts sized for an invoice, not a catalogue.
var pdfLimits = model.ResourceLimits{
	MaxStreamBytes:       MaxDocumentSize,
	MaxDecodeBytes:       MaxDocumentSize,
	MaxImagePixels:       1 << 20,
	MaxImageBytes:        MaxDocumentSize,
	MaxObjectCount:       200_000,
	MaxObjectStreamCount: 100_000,
	MaxObjectStreamFirst: 1 << 20,
	MaxXRefEntries:       200_000,
	MaxRecursionDepth:    100,
}

// disableConfigDir keeps pdfcpu from writing its configuration file under
// the user's home, which it does by default on first use.
var disableConfigDir sync.Once

// pdfConfig is pdfcpu's configuration for one read: relaxed validation, as
// real-world Factur-X files need, and pdfLimits.
func pdfConfig() *model.Configuration {
	disableConfigDir.Do(api.DisableConfigDir)
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	conf.Limits = pdfLimits
	return conf
}

// pdfError is a FlowError FLX-PDF for entry name, with why in French and
// English.
func pdfError(name, fr, en string) *flowgate.FlowError {
	return &flowgate.FlowError{Code: flowgate.CodePDF, Entry: name,
		MessageFR: "PDF refusé : " + fr, Message: "PDF refused: " + en}
}

// parsePDF reads data, at most MaxDocumentSize bytes of a PDF (the caller
// checks the size before reading), as a Factur-X or ZUGFeRD 2.x invoice:
// the embedded CII XML (see facturXNames) is extracted with pdfcpu and
// parsed as any CII document; the Entry's Data stays the PDF, as deposited,
// since the PDF is the legal invoice. The embedded file is decoded only up
// to MaxDocumentSize: one that declares more (/Params /Size) is refused
// unread, one that inflates past it is stopped there. A PDF that cannot be
// read (broken, encrypted, no embedded invoice, over the limits) is an
// Entry with Err FLX-PDF; the XML's own errors (FLX-XML, FLX-TYPE...) are
// reported as for a bare XML file, and a MINIMUM profile is FLX-PROFIL.
func parsePDF(name string, data []byte) Entry {
	e := Entry{Name: name, Data: data}
	xml, fe := facturXML(name, data)
	if fe != nil {
		e.Err = fe
		return e
	}
	inv, err := ParseBytes(xml)
	if err != nil {
		e.Err = withEntry(err.(*flowgate.FlowError), name)
		return e
	}
	if inv.Syntax != "cii" {
		e.Err = pdfError(name, "la facture jointe n'est pas au format CII (UN/CEFACT CrossIndustryInvoice)",
			"the embedded invoice is not CII (UN/CEFACT CrossIndustryInvoice)")
		return e
	}
	if isMinimumProfile(inv.CustomizationID) {
		e.Err = &flowgate.FlowError{Code: flowgate.CodeProfile, Entry: name,
			MessageFR: "profil Factur-X MINIMUM (" + inv.CustomizationID + ") : ce n'est pas une facture, déposez au moins le profil BASIC WL",
			Message:   "Factur-X MINIMUM profile (" + inv.CustomizationID + "): not an invoice, deposit at least the BASIC WL profile"}
		return e
	}
	inv.Syntax = "facturx"
	e.Invoice = inv
	return e
}

// isMinimumProfile reports whether a Factur-X / ZUGFeRD guideline
// identifier (ram:GuidelineSpecifiedDocumentContextParameter/ram:ID) names
// the MINIMUM profile: urn:factur-x.eu:1p0:minimum, or ZUGFeRD's
// urn:zugferd.de:2p0:minimum.
func isMinimumProfile(id string) bool {
	return strings.HasSuffix(strings.ToLower(strings.TrimSpace(id)), ":minimum")
}

// facturXML returns the embedded invoice XML of a PDF, decoded, at most
// MaxDocumentSize bytes, or an FLX-PDF error saying why there is none.
// pdfcpu panics on some hostile input: a panic is a broken PDF too.
func facturXML(name string, data []byte) (xml []byte, fe *flowgate.FlowError) {
	defer func() {
		if r := recover(); r != nil {
			xml, fe = nil, pdfError(name, fmt.Sprintf("PDF illisible (%v)", r), fmt.Sprintf("unreadable PDF (%v)", r))
		}
	}()
	ctx, err := api.ReadContext(bytes.NewReader(data), pdfConfig())
	if err != nil {
		return nil, readPDFError(name, err)
	}
	if ctx.Encrypt != nil || ctx.E != nil {
		return nil, pdfError(name, "PDF chiffré (un PDF/A-3 Factur-X ne peut pas l'être)",
			"encrypted PDF (a Factur-X PDF/A-3 cannot be)")
	}
	tree, err := embeddedFilesTree(ctx.XRefTable)
	if err != nil {
		return nil, treeError(name, err)
	}
	if tree == nil {
		return nil, noInvoice(name)
	}
	var found *types.StreamDict
	var foundName string
	err = walkNameTree(ctx.XRefTable, tree, 0, new(int), func(o types.Object) bool {
		sd, fileName, err := embeddedFile(ctx.XRefTable, o)
		if err != nil || sd == nil || !isFacturXName(fileName) {
			return false // another attachment, or a broken one: not the invoice
		}
		found, foundName = sd, fileName
		return true
	})
	if err != nil && err != errStop {
		return nil, treeError(name, err)
	}
	if found == nil {
		return nil, noInvoice(name)
	}
	return decodeEmbedded(name, foundName, found)
}

// readPDFError is the FLX-PDF error for a PDF pdfcpu could not read.
func readPDFError(name string, err error) *flowgate.FlowError {
	msg := err.Error()
	switch {
	case strings.Contains(strings.ToLower(msg), "encrypt"), strings.Contains(strings.ToLower(msg), "password"):
		return pdfError(name, "PDF chiffré (un PDF/A-3 Factur-X ne peut pas l'être) : "+msg,
			"encrypted PDF (a Factur-X PDF/A-3 cannot be): "+msg)
	case strings.Contains(strings.ToLower(msg), "limit"):
		return pdfError(name, fmt.Sprintf("PDF au-delà des limites (%d Mio décodés par flux) : %s", MaxDocumentSize>>20, msg),
			fmt.Sprintf("PDF over the limits (%d MiB decoded per stream): %s", MaxDocumentSize>>20, msg))
	}
	return pdfError(name, "PDF illisible ou corrompu : "+msg, "unreadable or corrupt PDF: "+msg)
}

// treeError is the FLX-PDF error for an embedded files tree that could not
// be read: over the limits (an object stream past MaxDocumentSize, say), or
// broken.
func treeError(name string, err error) *flowgate.FlowError {
	if strings.Contains(strings.ToLower(err.Error()), "limit") {
		return readPDFError(name, err)
	}
	return pdfError(name, "arbre des fichiers joints illisible : "+err.Error(),
		"unreadable embedded files tree: "+err.Error())
}

func noInvoice(name string) *flowgate.FlowError {
	want := strings.Join([]string{"factur-x.xml", "zugferd-invoice.xml", "ZUGFeRD-invoice.xml", "xrechnung.xml"}, ", ")
	return pdfError(name, "aucune facture jointe ("+want+") : ce PDF n'est pas une Factur-X",
		"no embedded invoice ("+want+"): this PDF is not a Factur-X")
}

// isFacturXName reports whether an embedded file's name is one of
// facturXNames, without case.
func isFacturXName(fileName string) bool {
	base := path.Base(strings.ReplaceAll(fileName, "\\", "/"))
	for _, n := range facturXNames {
		if strings.EqualFold(base, n) {
			return true
		}
	}
	return false
}

// embeddedFile resolves a file specification of the EmbeddedFiles name
// tree to its embedded file stream (/EF /F, undecoded) and its name (/UF,
// else /F). sd is nil when the specification embeds nothing.
func embeddedFile(xt *model.XRefTable, o types.Object) (sd *types.StreamDict, fileName string, err error) {
	d, err := xt.DereferenceDict(o)
	if err != nil || d == nil {
		return nil, "", err
	}
	for _, key := range []string{"UF", "F"} {
		if v, ok := d.Find(key); ok {
			if fileName, err = xt.DereferenceStringOrHexLiteral(v, model.V10, nil); err == nil && fileName != "" {
				break
			}
		}
	}
	ef, ok := d.Find("EF")
	if !ok {
		return nil, fileName, nil
	}
	efd, err := xt.DereferenceDict(ef)
	if err != nil || efd == nil {
		return nil, fileName, err
	}
	f, ok := efd.Find("F")
	if !ok {
		if f, ok = efd.Find("UF"); !ok {
			return nil, fileName, nil
		}
	}
	sd, _, err = xt.DereferenceStreamDict(f)
	return sd, fileName, err
}

// decodeEmbedded decodes the embedded invoice stream sd, refusing unread
// one whose declared size (/Params /Size, or /Length with no filter) is over
// MaxDocumentSize, and stopping one that inflates past it.
func decodeEmbedded(name, fileName string, sd *types.StreamDict) ([]byte, *flowgate.FlowError) {
	over := func(n int64) *flowgate.FlowError {
		return pdfError(name,
			fmt.Sprintf("facture jointe %q de plus de %d Mio (%d octets)", fileName, MaxDocumentSize>>20, n),
			fmt.Sprintf("embedded invoice %q over %d MiB (%d bytes)", fileName, MaxDocumentSize>>20, n))
	}
	if params := sd.DictEntry("Params"); params != nil {
		if size := params.IntEntry("Size"); size != nil && int64(*size) > MaxDocumentSize {
			return nil, over(int64(*size))
		}
	}
	if int64(len(sd.Raw)) > MaxDocumentSize && len(sd.FilterPipeline) == 0 {
		return nil, over(int64(len(sd.Raw)))
	}
	if len(sd.FilterPipeline) == 0 {
		return sd.Raw, nil
	}
	if err := sd.DecodeWithLimit(MaxDocumentSize); err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "limit") {
			return nil, pdfError(name,
				fmt.Sprintf("facture jointe %q de plus de %d Mio décompressés : lecture arrêtée", fileName, MaxDocumentSize>>20),
				fmt.Sprintf("embedded invoice %q over %d MiB decompressed: reading stopped", fileName, MaxDocumentSize>>20))
		}
		return nil, pdfError(name, fmt.Sprintf("facture jointe %q illisible : %v", fileName, err),
			fmt.Sprintf("unreadable embedded invoice %q: %v", fileName, err))
	}
	if int64(len(sd.Content)) > MaxDocumentSize {
		return nil, over(int64(len(sd.Content)))
	}
	return sd.Content, nil
}

// embeddedFilesTree is the root of the catalog's /Names /EmbeddedFiles
// name tree, or nil when the PDF has none.
func embeddedFilesTree(xt *model.XRefTable) (types.Dict, error) {
	cat, err := xt.Catalog()
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	names, ok := cat.Find("Names")
	if !ok {
		return nil, nil
	}
	nd, err := xt.DereferenceDict(names)
	if err != nil || nd == nil {
		return nil, err
	}
	ef, ok := nd.Find("EmbeddedFiles")
	if !ok {
		return nil, nil
	}
	return xt.DereferenceDict(ef)
}

// Bounds of a name tree walk: a hostile PDF can make the tree deep, wide
// or cyclic.
const (
	maxNameTreeDepth = 32
	maxNameTreeNodes = 20_000 // nodes and leaf entries together
)

var errNameTree = errors.New("name tree too deep, too large or cyclic")

// walkNameTree calls fn on each value of the name tree node d (its /Names
// array of key, value pairs, then its /Kids), depth first, until fn returns
// true. It visits at most maxNameTreeNodes nodes and entries, *seen
// counting them, and descends at most maxNameTreeDepth levels: past that
// the tree is refused (errNameTree), which also ends any cycle.
func walkNameTree(xt *model.XRefTable, d types.Dict, depth int, seen *int, fn func(types.Object) bool) error {
	if depth > maxNameTreeDepth {
		return errNameTree
	}
	if o, ok := d.Find("Names"); ok {
		arr, err := xt.DereferenceArray(o)
		if err != nil {
			return err
		}
		for i := 1; i < len(arr); i += 2 {
			if *seen++; *seen > maxNameTreeNodes {
				return errNameTree
			}
			if fn(arr[i]) {
				return errStop
			}
		}
	}
	if o, ok := d.Find("Kids"); ok {
		kids, err := xt.DereferenceArray(o)
		if err != nil {
			return err
		}
		for _, k := range kids {
			if *seen++; *seen > maxNameTreeNodes {
				return errNameTree
			}
			kd, err := xt.DereferenceDict(k)
			if err != nil || kd == nil {
				continue // a broken kid hides only its own entries
			}
			if err := walkNameTree(xt, kd, depth+1, seen, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// errStop ends a walk whose callback found what it wanted.
var errStop = errors.New("stop")
