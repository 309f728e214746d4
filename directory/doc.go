// Package directory reads the Chorus Pro directory of public structures
// (annuaire des structures publiques) and answers lookups against it.
//
// It owns two things:
//
//   - reading the weekly export, two semicolon-separated UTF-8 files
//     structures.csv and services.csv, into an immutable [Snapshot];
//   - constant-time lookups of a structure by SIRET and of a service by
//     (SIRET, service code) in that snapshot.
//
// Rows that cannot be read (malformed SIRET, bad boolean, empty service code,
// duplicates, services of an unknown structure) are skipped and reported as
// [RowError] values with their file and line, so one bad line in a weekly
// export of several hundred thousand does not stop the hub. A missing file,
// an unreadable header, a missing required column or a file that is not
// UTF-8 is a hard error: the caller should keep the previous snapshot.
//
// The directory is authoritative for recipients: a SIRET listed in it is
// routable even when it fails the Luhn checksum, so this package checks only
// the shape of identifiers (14 ASCII digits), never their checksum.
//
// What it must not do: decide whether an invoice is acceptable. Rules such as
// "this structure requires an engagement number" or "FACTURES_PUBLIQUES is
// reserved for public suppliers" belong to the validator, which reads the
// flags exposed here. The package performs no I/O beyond reading the two
// files, keeps no global state and never reloads itself; swapping snapshots
// when a new export arrives is the caller's job. A [Snapshot] is never
// modified after it is built, so it is safe for concurrent use.
package directory
