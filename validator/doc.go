// Package validator decides whether an invoice may be integrated: the
// EN 16931 rules under their official ids, the French rules, and the hub's
// checks against the directory of public structures, the depositing partner
// and the history of accepted invoices.
//
// Validate is a pure function of its inputs and returns findings as data,
// never errors. The package does no I/O of its own: CheckFlow reads through
// the parser from a reader its caller opened.
package validator
