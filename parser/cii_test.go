package parser

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"flowgate"
	"flowgate/internal/corpus"
)

// diffValues lists the paths where a and b differ, walking structs,
// slices and pointers.
func diffValues(path string, a, b reflect.Value, out *[]string) {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				*out = append(*out, path+": nil vs non-nil")
			}
			return
		}
		diffValues(path, a.Elem(), b.Elem(), out)
	case reflect.Struct:
		if a.Type() == reflect.TypeOf(flowgate.Decimal{}) {
			if !reflect.DeepEqual(a.Interface(), b.Interface()) {
				*out = append(*out, fmt.Sprintf("%s: %v vs %v", path, a.Interface(), b.Interface()))
			}
			return
		}
		for i := 0; i < a.NumField(); i++ {
			diffValues(path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i), out)
		}
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			*out = append(*out, fmt.Sprintf("%s: %d vs %d elements", path, a.Len(), b.Len()))
			return
		}
		for i := 0; i < a.Len(); i++ {
			diffValues(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i), out)
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, fmt.Sprintf("%s: %#v vs %#v", path, a.Interface(), b.Interface()))
		}
	}
}

func parseFile(t *testing.T, path string) *flowgate.Invoice {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := ParseBytes(data)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	return inv
}

func TestCIITwinsDump(t *testing.T) {
	dir := corpus.Need(t, "en16931")
	for n := 1; n <= 9; n++ {
		c := parseFile(t, filepath.Join(dir, "cii-examples", fmt.Sprintf("CII_example%d.xml", n)))
		u := parseFile(t, filepath.Join(dir, "ubl-examples", fmt.Sprintf("ubl-tc434-example%d.xml", n)))
		var d []string
		diffValues("", reflect.ValueOf(u), reflect.ValueOf(c), &d)
		t.Logf("example %d:\n%s", n, strings.Join(d, "\n"))
	}
}
