package parser_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"flowgate/parser"
	"flowgate/validator"
)

func TestZZCmp(t *testing.T) {
	files, _ := filepath.Glob(os.Getenv("CMPGLOB"))
	ids := map[string]bool{}
	for _, r := range validator.Rules() {
		ids[r.ID] = true
	}
	var all []string
	for id := range ids {
		all = append(all, id)
	}
	slices.Sort(all)
	fmt.Println("RULES", all)
	for _, f := range files {
		data, _ := os.ReadFile(f)
		inv, err := parser.ParseBytes(data)
		if err != nil {
			fmt.Println("FILE", f, "ERR", err)
			continue
		}
		var got []string
		for _, fd := range validator.Validate(inv, validator.Input{}) {
			if ids[fd.Code] && !slices.Contains(got, fd.Code) {
				got = append(got, fd.Code)
			}
		}
		slices.Sort(got)
		fmt.Println("FILE", f, got)
	}
}
