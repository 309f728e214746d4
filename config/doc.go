// Package config owns the flowgate daemon's configuration: the TOML file
// format, its defaults, and the checks that run before anything starts.
//
// Load reads a file over DefaultConfig, refuses keys it does not know,
// resolves relative paths against the file's folder and validates the result,
// reporting every problem at once so an operator fixes the file in one pass.
// testdata/example.toml shows every key with its meaning.
//
// The package only describes the configuration: it opens no mailbox,
// directory or database and starts nothing. Secrets, when a key needs one,
// are file paths, never inline values.
package config
