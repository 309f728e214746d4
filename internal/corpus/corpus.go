// Package corpus finds the shared public test material (official EN 16931
// examples and rule tests, the CPPStatut schema) for the tests, and checks
// files against that schema with xmllint. The material lives beside the
// repository, in ../shared/corpus, and is never copied into it: tests that
// need it skip, saying why, when it is absent.
package corpus

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Path returns the path of elem inside the corpus, and whether it exists.
// The corpus is found from the module root (the folder holding go.mod,
// searched upwards from the working directory).
func Path(elem ...string) (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
	p := filepath.Join(append([]string{dir, "..", "shared", "corpus"}, elem...)...)
	_, err = os.Stat(p)
	return p, err == nil
}

// Need returns the path of elem inside the corpus, or skips the test.
func Need(t testing.TB, elem ...string) string {
	t.Helper()
	p, ok := Path(elem...)
	if !ok {
		t.Skipf("test corpus not found at %s (see ../shared/corpus/README.md)", p)
	}
	return p
}

// CPPStatutSchema is the Chorus Pro status schema inside the corpus.
var CPPStatutSchema = []string{"xsd", "cppstatut", "CPPStatutPivot_V1_19.xsd"}

// ValidateCPPStatut checks files against the CPPStatut schema with
// xmllint, failing the test on any error. Without the schema or xmllint it
// logs that the check was not made and returns: the rest of the test stands.
func ValidateCPPStatut(t testing.TB, files []string) {
	t.Helper()
	xsd, ok := Path(CPPStatutSchema...)
	if !ok {
		t.Logf("status files not validated: CPPStatut schema not found at %s (see ../shared/corpus/README.md)", xsd)
		return
	}
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Log("status files not validated: xmllint not installed (Debian: libxml2-utils)")
		return
	}
	if len(files) == 0 {
		t.Fatal("no status file to validate")
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
