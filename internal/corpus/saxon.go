package corpus

import (
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CDARSchema is the CDAR D22B schema inside the corpus (uncoupled code
// lists), and CDARRules the FNFE-MPE rules for CDAR lifecycle messages,
// compiled Schematron as XSLT 2.0 (run with Saxon HE).
var (
	CDARSchema = []string{"xsd", "cdar-d22b", "CrossDomainAcknowledgementAndResponse_100pD22B.xsd"}
	CDARRules  = []string{"fr-ctc", "cdar", "BR-FR-CDV-Schematron-CDAR.xslt"}
)

// saxonJars are where Debian's libsaxonhe-java puts Saxon HE; $SAXON_JAR,
// when set, is tried first.
var saxonJars = []string{"/usr/share/java/Saxon-HE.jar", "/usr/share/java/saxon9he.jar"}

// Assert is one fired assert or report of a Schematron run: the rule id
// (BR-FR-CDV-15_MDT-113), its flag (fatal, warning), the XPath of the node
// it fired on, and its text.
type Assert struct {
	ID, Flag, Location, Text string
}

// SVRL is the result of a Schematron run on one file.
type SVRL struct {
	Fired  int      // rules that fired (matched a node): 0 means the rules saw nothing to check
	Failed []Assert // failed asserts and successful reports
}

// Fatal returns the asserts flagged fatal.
func (s SVRL) Fatal() []Assert {
	var out []Assert
	for _, a := range s.Failed {
		if a.Flag == "fatal" {
			out = append(out, a)
		}
	}
	return out
}

// NeedSaxon returns the command line that runs Saxon HE (java -jar JAR),
// or skips the test, saying what to install, when java or Saxon is absent.
func NeedSaxon(t testing.TB) []string {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("Schematron rules not run: java not installed (Debian: apt-get install default-jre-headless libsaxonhe-java)")
	}
	jars := saxonJars
	if j := os.Getenv("SAXON_JAR"); j != "" {
		jars = append([]string{j}, jars...)
	}
	for _, jar := range jars {
		if _, err := os.Stat(jar); err == nil {
			return []string{java, "-jar", jar}
		}
	}
	t.Skipf("Schematron rules not run: Saxon HE not found at %s (Debian: apt-get install libsaxonhe-java, or set SAXON_JAR)",
		strings.Join(jars, ", "))
	return nil
}

// Schematron runs the compiled Schematron xslt with Saxon HE on every file
// of dir in one JVM (-s:DIR -o:OUTDIR) and returns each file's result by
// base name. dir must hold only the XML files to check. It skips the test
// when java or Saxon is absent (NeedSaxon), and fails it when Saxon fails
// or a file has no result.
func Schematron(t testing.TB, xslt, dir string) map[string]SVRL {
	t.Helper()
	saxon := NeedSaxon(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	args := append(saxon[1:], "-s:"+dir, "-o:"+out, "-xsl:"+xslt)
	if msg, err := exec.Command(saxon[0], args...).CombinedOutput(); err != nil {
		if len(msg) > 3000 {
			msg = msg[len(msg)-3000:]
		}
		t.Fatalf("saxon %s on %s: %v\n%s", filepath.Base(xslt), dir, err, msg)
	}
	results := make(map[string]SVRL, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(out, e.Name()))
		if err != nil {
			t.Fatalf("no Schematron result for %s: %v", e.Name(), err)
		}
		r, err := ParseSVRL(data)
		if err != nil {
			t.Fatalf("Schematron result for %s: %v", e.Name(), err)
		}
		results[e.Name()] = r
	}
	return results
}

// ParseSVRL reads a Schematron (SVRL) report: the rules that fired, and
// every failed assert and successful report with its id, flag, location
// and text (spaces collapsed).
func ParseSVRL(data []byte) (SVRL, error) {
	var doc struct {
		Fired  []struct{} `xml:"http://purl.oclc.org/dsdl/svrl fired-rule"`
		Failed []svrlItem `xml:"http://purl.oclc.org/dsdl/svrl failed-assert"`
		Report []svrlItem `xml:"http://purl.oclc.org/dsdl/svrl successful-report"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return SVRL{}, fmt.Errorf("read SVRL: %w", err)
	}
	r := SVRL{Fired: len(doc.Fired)}
	for _, it := range append(doc.Failed, doc.Report...) {
		r.Failed = append(r.Failed, Assert{ID: it.ID, Flag: it.Flag, Location: it.Location, Text: strings.Join(strings.Fields(it.Text), " ")})
	}
	return r, nil
}

type svrlItem struct {
	ID       string `xml:"id,attr"`
	Flag     string `xml:"flag,attr"`
	Location string `xml:"location,attr"`
	Text     string `xml:"http://purl.oclc.org/dsdl/svrl text"`
}

// ValidateXSD checks files against the schema at elem inside the corpus
// with xmllint, failing the test on any error. Without the schema or
// xmllint it skips the test, saying why.
func ValidateXSD(t testing.TB, elem []string, files []string) {
	t.Helper()
	xsd := Need(t, elem...)
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("schema not checked: xmllint not installed (Debian: libxml2-utils)")
	}
	if len(files) == 0 {
		t.Fatal("no file to validate")
	}
	for len(files) > 0 {
		n := min(len(files), 200)
		args := append([]string{"--noout", "--schema", xsd}, files[:n]...)
		if out, err := exec.Command("xmllint", args...).CombinedOutput(); err != nil {
			if len(out) > 3000 {
				out = out[len(out)-3000:]
			}
			t.Fatalf("xmllint --schema %s: %v\n%s", filepath.Base(xsd), err, out)
		}
		files = files[n:]
	}
}

// SchematronEach is Schematron for files the rules may fail to read: a
// file whose run stops on a dynamic error (an amount that is not a decimal,
// for xs:decimal) has no result but its error, in errs by base name, and
// the other files still get theirs. It fails the test when Saxon fails for
// another reason or a file has neither.
func SchematronEach(t testing.TB, xslt, dir string) (results map[string]SVRL, errs map[string]string) {
	t.Helper()
	saxon := NeedSaxon(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	args := append(saxon[1:], "-s:"+dir, "-o:"+out, "-xsl:"+xslt)
	msg, runErr := exec.Command(saxon[0], args...).CombinedOutput()
	errs = map[string]string{}
	for _, line := range strings.Split(string(msg), "\n") {
		if name, why, ok := strings.Cut(strings.TrimPrefix(line, "While processing "), ": "); ok && len(name) < len(line) {
			errs[name] = why
		}
	}
	if runErr != nil && len(errs) == 0 {
		if len(msg) > 3000 {
			msg = msg[len(msg)-3000:]
		}
		t.Fatalf("saxon %s on %s: %v\n%s", filepath.Base(xslt), dir, runErr, msg)
	}
	results = make(map[string]SVRL, len(entries))
	for _, e := range entries {
		if e.IsDir() || errs[e.Name()] != "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(out, e.Name()))
		if err != nil {
			t.Fatalf("no Schematron result for %s: %v", e.Name(), err)
		}
		r, err := ParseSVRL(data)
		if err != nil {
			t.Fatalf("Schematron result for %s: %v", e.Name(), err)
		}
		results[e.Name()] = r
	}
	return results, errs
}

// EN16931UBLRules is the CEN EN 16931 validation artefact for UBL
// (v1.3.16), compiled Schematron as XSLT 2.0 (run with Saxon HE).
var EN16931UBLRules = []string{"en16931", "validation", "EN16931-UBL-validation.xslt"}
