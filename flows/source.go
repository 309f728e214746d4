package flows

import "context"

// Source is where partners' flows come from: a local drop folder written
// by the partner itself, the embedded SFTP server, or the partner's own SFTP
// server polled on a schedule. Every Source keeps one contract, which
// conformance tests check for each (sources_test.go):
//
//   - a flow reaches its partner's in/ folder complete, by an atomic rename
//     from outside in/ (or, for a local writer, is taken only once complete);
//     an interrupted deposit never appears there;
//   - it is attributed to the right partner, and its bytes are those deposited;
//   - nothing escapes the partner's mailbox: no path outside it, no link
//     followed;
//   - the origin lets go of a flow (a remote file deleted) only once the
//     flow is durably in in/.
//
// The Intake then claims flows from in/ into work/.
type Source interface {
	// Run serves or polls until ctx is done and returns nil then; an
	// error is a fault of the source itself (a port in use, say).
	Run(ctx context.Context) error
}
