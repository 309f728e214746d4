// Package parser turns the bytes of a deposited flow into invoices: it tells
// a plain XML file from a .zip, .tar.gz or .tar by content, opens archives
// safely (no path escapes, links, bombs or unbounded members, sizes measured
// on the bytes inflated, one member held at a time), and reads each UBL
// 2.1 Invoice or CreditNote with a strict XML scanner that refuses DTDs and
// entities and matches elements by namespace URI.
//
// It owns reading, not judging: a missing or wrong field is left for the
// validator. It touches no disk (it reads from an io.Reader or io.ReaderAt
// the caller opened) and keeps nothing between calls.
package parser
