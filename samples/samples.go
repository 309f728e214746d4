// Package samples bundles the sample directory and flows into the binary,
// so that `flowgate demo` runs anywhere.
package samples

import "embed"

// FS holds directory/ (structures.csv, services.csv) and flows/ (sample
// flows, rejets/ holding one flow per rejection code).
//
//go:embed directory flows
var FS embed.FS
