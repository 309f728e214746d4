// Package outbox renders the status files partners collect and puts them in
// place atomically.
//
// It owns three things. CPPStatut rendering (FlowStatusXML, InvoiceStatusXML)
// turns a flow report or invoice statuses into XML that validates against
// Chorus Pro's CPPStatutPivot_V1_19.xsd: element order, enumerations and
// lengths are the schema's, free text is escaped and cut to its limit, and
// identifiers that do not fit are refused rather than altered; their JSON
// twins (InvoiceStatusJSON) carry the same facts. CDAR rendering (CDAR, with
// the one table of hub statuses and findings to the 2026 reform's lifecycle
// and reason codes in cdarmap.go) writes CDAR D22B messages that validate
// against their XSD and the French CDAR rules. Batch writes
// files so that a reader never sees a partial file (write a dot-named temp,
// fsync, move it to the final name without replacing, fsync the directory;
// or, in SyncFS mode, two filesystem flushes for the whole batch), never replaces a
// file already in place, and can be run again after a crash: a file already
// there with the same bytes counts as written.
//
// It must not decide anything. Verdicts, flow outcomes and invoice statuses
// come from the validator and the router; outbox renders what it is given
// (only refusing what the schema cannot hold) and writes where it is told.
// It does not route, choose directories, know partners' mailboxes, retry, or
// delete files: what is in place stays in place.
package outbox
