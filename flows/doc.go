// Package flows owns where flows come from and how they are taken: the
// partners' mailboxes on disk, the Intake that watches their in/ folders
// and claims complete files into work/, and the Sources that bring files
// into in/ (the embedded SFTP server, the poller of partners' SFTP servers;
// a local partner writes into in/ itself).
//
// It decides nothing about a flow's content and writes nothing but into
// in/ (complete files, by atomic rename) and work/ (claims): reading,
// checking and routing belong to the parser, validator and router.
package flows
