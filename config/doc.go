// Package config owns the flowgate daemon's configuration: the TOML file
// format, its defaults, and the checks that run before anything starts.
//
// Load reads a file over DefaultConfig, refuses keys it does not know,
// resolves relative paths against the file's folder and validates the result,
// reporting every problem at once so an operator fixes the file in one pass.
// testdata/example.toml shows every key with its meaning. A Config built in
// code instead of loaded calls ApplyDefaults before Validate.
//
// [sftp] configures the embedded SFTP server (none when listen is empty);
// each partner may log in to it with a key from its authorized_keys file, and
// may also list [[partners.remote]] servers of its own that the hub polls on
// a cron schedule (cron.ParseStandard syntax, UTC). Remote in_dir and out_dir
// are paths on those servers, so they are checked, never resolved locally.
//
// The package only describes the configuration: it opens no mailbox,
// directory, database or key file and starts nothing; a missing key file is
// reported by the daemon when it starts. Secrets, when a key needs one,
// are file paths, never inline values.
package config
