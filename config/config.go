package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"flowgate"

	"github.com/BurntSushi/toml"
	"github.com/robfig/cron/v3"
)

// Duration is a time.Duration written in TOML as Go duration text ("2s",
// "1m30s"), so a unit is always visible in the file.
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("invalid duration %q: want a number with a unit, such as \"2s\" or \"1m30s\"", text)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// Partner is a system that deposits invoices on the hub, collects them, or
// both. Its ID is the Emetteur/Recepteur Id of the CPPStatut files it
// exchanges with the hub.
type Partner struct {
	ID   string `toml:"id"`
	Name string `toml:"name"`
	// SIRETs are the suppliers this partner may deposit invoices for.
	// Several partners may deposit for the same supplier.
	SIRETs []string `toml:"sirets"`
	// Receives are the recipients whose invoices this partner collects.
	// A recipient belongs to at most one partner.
	Receives []string `toml:"receives"`
	// StatusFormats are the status files written back to this partner.
	StatusFormats []string `toml:"status_formats"`
	// AuthorizedKeys is an OpenSSH authorized_keys file: a client of the
	// embedded SFTP server offering one of its keys is this partner. Empty
	// means the partner does not log in to the hub.
	AuthorizedKeys string `toml:"authorized_keys"`
	// MaxFileSize bounds, in bytes, a file the partner uploads over SFTP or
	// the hub pulls from its remotes.
	MaxFileSize int64 `toml:"max_file_size"`
	// MaxSessions bounds the partner's concurrent SFTP connections, and its
	// SFTP channels counted across them.
	MaxSessions int `toml:"max_sessions"`
	// MaxPendingBytes bounds, in bytes, the partner's uploads in progress
	// plus its files left in in/ under a temporary name; 0 means
	// 4 × max_file_size.
	MaxPendingBytes int64 `toml:"max_pending_bytes"`
	// Remotes are the partner's own SFTP servers the hub polls.
	Remotes []Remote `toml:"remote"`
}

// SFTP configures the embedded SFTP server through which partners deposit
// and collect files. An empty Listen means no server.
type SFTP struct {
	// Listen is the host:port the server listens on; empty = no server.
	Listen string `toml:"listen"`
	// HostKey is the server's private host key file. The server generates it
	// on first start when absent; Load sets it to <Root>/ssh_host_ed25519_key
	// when Listen is set and HostKey empty.
	HostKey string `toml:"host_key"`
	// MaxAuthTries bounds the authentication attempts of one connection,
	// counted as golang.org/x/crypto/ssh counts them (see README).
	MaxAuthTries int `toml:"max_auth_tries"`
	// HandshakeTimeout bounds a connection's handshake and login; 0 means
	// flows.DefaultHandshakeTimeout (10s).
	HandshakeTimeout Duration `toml:"handshake_timeout"`
	// MaxPreAuthPerAddress bounds the connections of one remote address not
	// logged in yet; 0 means flows.DefaultMaxPreAuthPerHost (8).
	MaxPreAuthPerAddress int `toml:"max_preauth_per_address"`
	// UploadExpiry is how long an upload left in in/ under a temporary name
	// is kept; 0 means flows.DefaultUploadExpiry (24h).
	UploadExpiry Duration `toml:"upload_expiry"`
}

// Remote is a partner's own SFTP server, polled by the hub: files found in
// InDir are fetched as the partner's deposits, and status files are pushed
// to OutDir.
type Remote struct {
	Host string `toml:"host"`
	Port int    `toml:"port"`
	User string `toml:"user"`
	// PrivateKey is the hub's private key file for this server.
	PrivateKey string `toml:"private_key"`
	// KnownHosts is an OpenSSH known_hosts file; the server's host key must
	// be listed in it (strict checking).
	KnownHosts string `toml:"known_hosts"`
	// InDir is the server folder polled for deposits, an absolute remote path.
	InDir string `toml:"in_dir"`
	// OutDir is the server folder status files are pushed to, an absolute
	// remote path; empty means no push.
	OutDir string `toml:"out_dir"`
	// Schedule is when to poll: a descriptor such as "@every 30s" or
	// "@hourly", or a 5-field cron spec in UTC, as read by cron.ParseStandard.
	Schedule string `toml:"schedule"`
	// Timeout bounds the dial and SSH handshake.
	Timeout Duration `toml:"timeout"`
}

// Addr returns the host:port to dial.
func (r Remote) Addr() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// Config is the whole daemon configuration.
type Config struct {
	// Root holds the partners' mailboxes and the hub's state.
	Root string `toml:"root"`
	// Directory holds structures.csv and services.csv.
	Directory string `toml:"directory"`
	// Database is the SQLite file; Load sets it to <Root>/flowgate.db when empty.
	Database string `toml:"database"`
	// Settle is how long a file must stay untouched before it is read as complete.
	Settle Duration `toml:"settle"`
	// Rescan is the period of the full scan that backs up file notifications.
	Rescan Duration `toml:"rescan"`
	// ShutdownTimeout bounds how long in-flight flows may take to finish on SIGTERM.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	LogFormat       string   `toml:"log_format"`
	LogLevel        string   `toml:"log_level"`

	// MemoryLimit is the daemon's memory budget in bytes, given to the Go
	// runtime (debug.SetMemoryLimit) and from which the router derives how
	// many flows it reads at once and how much of them it holds.
	MemoryLimit int64 `toml:"memory_limit"`
	// FlowTimeout bounds the checking of one flow; a flow past it counts as
	// a failed attempt.
	FlowTimeout Duration `toml:"flow_timeout"`
	// MaxAttempts is how many tries at deciding a flow (each crash, panic,
	// timeout or unreadable file counts one) before it is quarantined.
	MaxAttempts int `toml:"max_attempts"`

	// HubID is the hub's own partner id in the status files it emits.
	HubID    string    `toml:"hub_id"`
	SFTP     SFTP      `toml:"sftp"`
	Partners []Partner `toml:"partners"`
}

// Accepted values.
var (
	logFormats    = []string{"text", "json"}
	logLevels     = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
	statusFormats = []string{"cppstatut", "json"}
)

// Defaults of the SFTP keys, set by DefaultConfig (DefaultMaxAuthTries) and
// ApplyDefaults (the others).
const (
	DefaultMaxAuthTries  = 6
	DefaultMaxFileSize   = 1 << 30 // bytes
	DefaultMaxSessions   = 4
	DefaultRemotePort    = 22
	DefaultSchedule      = "@every 30s"
	DefaultRemoteTimeout = 15 * time.Second
	DefaultMemoryLimit   = 1 << 30 // bytes
	DefaultFlowTimeout   = time.Minute
	DefaultMaxAttempts   = 3
	// DefaultHostKeyName is the host key file in Root used when
	// sftp.listen is set and sftp.host_key is not.
	DefaultHostKeyName = "ssh_host_ed25519_key"
)

// Limits checked by Validate.
const (
	maxAuthTriesLimit = 100
	maxSessionsLimit  = 1000
	minMemoryLimit    = 256 << 20 // one worker and its round's budgets
	maxAttemptsLimit  = 100
)

// DefaultConfig returns the values a file may leave out. Root, Directory and
// Partners have no default and must be set.
func DefaultConfig() Config {
	return Config{
		Settle:          Duration{2 * time.Second},
		Rescan:          Duration{time.Minute},
		ShutdownTimeout: Duration{30 * time.Second},
		MemoryLimit:     DefaultMemoryLimit,
		FlowTimeout:     Duration{DefaultFlowTimeout},
		MaxAttempts:     DefaultMaxAttempts,
		LogFormat:       "text",
		LogLevel:        "info",
		HubID:           "FLOWGATE",
		SFTP:            SFTP{MaxAuthTries: DefaultMaxAuthTries},
	}
}

// DefaultStatusFormats returns the status formats of a partner whose file
// entry does not list any.
func DefaultStatusFormats() []string { return slices.Clone(statusFormats) }

// Load reads the TOML file at path over DefaultConfig and returns the
// validated result. Unknown keys are refused, so a misspelt key is reported
// rather than silently ignored. Relative paths (root, directory, database,
// sftp.host_key, and each partner's authorized_keys, private_key and
// known_hosts) are taken from the config file's folder, not from the working
// directory, so the daemon reads the same files wherever it is started.
// Remote in_dir and out_dir are paths on the partner's server and are left
// as written.
//
// Keys left out get their defaults (see ApplyDefaults). A decode error
// (bad TOML, bad duration text, wrong type) is returned alone; otherwise every
// unknown key and every validation problem is reported in one joined error.
func Load(path string) (Config, error) {
	cfg := DefaultConfig()
	md, err := toml.DecodeFile(path, &cfg)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	var problems []error
	var unknown []string
	for _, k := range md.Undecoded() {
		// An unknown table is reported once, not again for each key inside it.
		key := k.String()
		if slices.ContainsFunc(unknown, func(u string) bool { return strings.HasPrefix(key, u+".") }) {
			continue
		}
		unknown = append(unknown, key)
		problems = append(problems, fmt.Errorf("unknown key %s", key))
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	cfg.Root = resolve(dir, cfg.Root)
	cfg.Directory = resolve(dir, cfg.Directory)
	cfg.Database = resolve(dir, cfg.Database)
	cfg.SFTP.HostKey = resolve(dir, cfg.SFTP.HostKey)
	for i := range cfg.Partners {
		p := &cfg.Partners[i]
		p.AuthorizedKeys = resolve(dir, p.AuthorizedKeys)
		for j := range p.Remotes {
			r := &p.Remotes[j]
			r.PrivateKey = resolve(dir, r.PrivateKey)
			r.KnownHosts = resolve(dir, r.KnownHosts)
		}
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return Config{}, fmt.Errorf("config %s: %w", path, errors.Join(problems...))
	}
	return cfg, nil
}

// ApplyDefaults fills the unset keys that have no fixed default in
// DefaultConfig, as Load does after resolving paths; a Config built in code
// calls it before Validate. It sets
//   - database to <root>/flowgate.db when empty and root is set;
//   - sftp.host_key to <root>/ssh_host_ed25519_key when sftp.listen and root
//     are set and host_key is empty;
//   - per partner: status_formats to DefaultStatusFormats when empty,
//     max_file_size to DefaultMaxFileSize and max_sessions to
//     DefaultMaxSessions when zero;
//   - per remote: port to DefaultRemotePort and timeout to
//     DefaultRemoteTimeout when zero, schedule to DefaultSchedule when empty.
//
// Values already set, valid or not, are kept for Validate to judge.
func (c *Config) ApplyDefaults() {
	if c.Database == "" && c.Root != "" {
		c.Database = filepath.Join(c.Root, "flowgate.db")
	}
	if c.SFTP.Listen != "" && c.SFTP.HostKey == "" && c.Root != "" {
		c.SFTP.HostKey = filepath.Join(c.Root, DefaultHostKeyName)
	}
	for i := range c.Partners {
		p := &c.Partners[i]
		if len(p.StatusFormats) == 0 {
			p.StatusFormats = DefaultStatusFormats()
		}
		if p.MaxFileSize == 0 {
			p.MaxFileSize = DefaultMaxFileSize
		}
		if p.MaxSessions == 0 {
			p.MaxSessions = DefaultMaxSessions
		}
		for j := range p.Remotes {
			r := &p.Remotes[j]
			if r.Port == 0 {
				r.Port = DefaultRemotePort
			}
			if r.Schedule == "" {
				r.Schedule = DefaultSchedule
			}
			if r.Timeout.Duration == 0 {
				r.Timeout = Duration{DefaultRemoteTimeout}
			}
		}
	}
}

// resolve makes a relative path relative to dir; it leaves empty paths empty
// so that Validate can report them.
func resolve(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// Validate reports every problem of c at once, joined with errors.Join, each
// naming its field as written in the file (partners are numbered from 0, in
// file order). It returns nil when c is usable. It opens no key file: those
// named by the SFTP settings are checked by the daemon when it starts.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.Root == "" {
		bad("root: required")
	}
	if c.Directory == "" {
		bad("directory: required")
	}
	if c.Settle.Duration <= 0 {
		bad("settle %q: must be positive", c.Settle)
	}
	if c.Rescan.Duration < time.Second {
		bad("rescan %q: must be at least 1s", c.Rescan)
	}
	if c.ShutdownTimeout.Duration <= 0 {
		bad("shutdown_timeout %q: must be positive", c.ShutdownTimeout)
	}
	if c.MemoryLimit < minMemoryLimit {
		bad("memory_limit %d: must be at least %d (256 MiB)", c.MemoryLimit, int64(minMemoryLimit))
	}
	if c.FlowTimeout.Duration < time.Second {
		bad("flow_timeout %q: must be at least 1s", c.FlowTimeout)
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > maxAttemptsLimit {
		bad("max_attempts %d: must be 1-%d", c.MaxAttempts, maxAttemptsLimit)
	}
	if !slices.Contains(logFormats, c.LogFormat) {
		bad("log_format %q: must be text or json", c.LogFormat)
	}
	if _, ok := logLevels[c.LogLevel]; !ok {
		bad("log_level %q: must be debug, info, warn or error", c.LogLevel)
	}
	if !validID(c.HubID) {
		bad("hub_id %q: must be 3-8 characters A-Z 0-9", c.HubID)
	}

	if c.SFTP.Listen != "" {
		if !validHostPort(c.SFTP.Listen) {
			bad("sftp.listen %q: must be host:port with a port 1-65535", c.SFTP.Listen)
		}
		if c.SFTP.HostKey == "" {
			bad("sftp.host_key: required when listen is set")
		}
		// With no partner at all, "partners" is the one problem to report.
		if len(c.Partners) > 0 && !slices.ContainsFunc(c.Partners, func(p Partner) bool { return p.AuthorizedKeys != "" }) {
			bad("sftp.listen: no partner has authorized_keys, so nobody can log in")
		}
	}
	if c.SFTP.MaxAuthTries < 1 || c.SFTP.MaxAuthTries > maxAuthTriesLimit {
		bad("sftp.max_auth_tries %d: must be 1-%d", c.SFTP.MaxAuthTries, maxAuthTriesLimit)
	}
	if c.SFTP.HandshakeTimeout.Duration < 0 {
		bad("sftp.handshake_timeout %q: must not be negative", c.SFTP.HandshakeTimeout)
	}
	if c.SFTP.MaxPreAuthPerAddress < 0 || c.SFTP.MaxPreAuthPerAddress > maxSessionsLimit {
		bad("sftp.max_preauth_per_address %d: must be 1-%d, or 0 for the default", c.SFTP.MaxPreAuthPerAddress, maxSessionsLimit)
	}
	if c.SFTP.UploadExpiry.Duration < 0 {
		bad("sftp.upload_expiry %q: must not be negative", c.SFTP.UploadExpiry)
	}

	if len(c.Partners) == 0 {
		bad("partners: at least one partner is required")
	}
	ids := map[string]int{}       // partner id → first index
	collector := map[string]int{} // recipient SIRET → index of the partner collecting it
	keysOf := map[string]int{}    // authorized_keys path → first partner index
	for i, p := range c.Partners {
		field := fmt.Sprintf("partners[%d]", i)
		switch first, dup := ids[p.ID]; {
		case !validID(p.ID):
			bad("%s.id %q: must be 3-8 characters A-Z 0-9", field, p.ID)
		case dup:
			bad("%s.id %q: already used by partners[%d]", field, p.ID, first)
		default:
			ids[p.ID] = i
		}
		if p.ID != "" && p.ID == c.HubID {
			bad("hub_id %q: must differ from %s.id", c.HubID, field)
		}
		if strings.TrimSpace(p.Name) == "" {
			bad("%s.name: required", field)
		}
		for j, s := range p.SIRETs {
			if !flowgate.IsSIRETShape(s) {
				bad("%s.sirets[%d] %q: must be 14 digits", field, j, s)
			}
		}
		for j, s := range p.Receives {
			if !flowgate.IsSIRETShape(s) {
				bad("%s.receives[%d] %q: must be 14 digits", field, j, s)
				continue
			}
			if other, taken := collector[s]; taken && other != i {
				bad("%s.receives[%d] %q: already received by partners[%d] (%s); a recipient's invoices go to one partner", field, j, s, other, c.Partners[other].ID)
				continue
			}
			collector[s] = i
		}
		if len(p.StatusFormats) == 0 {
			bad("%s.status_formats: at least one of cppstatut, json, cdar is required", field)
		}
		for j, f := range p.StatusFormats {
			switch {
			case !slices.Contains(statusFormats, f) && f != "cdar":
				bad("%s.status_formats[%d] %q: must be cppstatut, json or cdar", field, j, f)
			case slices.Index(p.StatusFormats, f) < j:
				bad("%s.status_formats[%d] %q: listed twice", field, j, f)
			}
		}
		if p.AuthorizedKeys != "" {
			if c.SFTP.Listen == "" {
				bad("%s.authorized_keys: set but [sftp] listen is empty", field)
			}
			// The key decides the partner: one file cannot name two partners.
			if first, dup := keysOf[filepath.Clean(p.AuthorizedKeys)]; dup {
				bad("%s.authorized_keys %q: already used by partners[%d]", field, p.AuthorizedKeys, first)
			} else {
				keysOf[filepath.Clean(p.AuthorizedKeys)] = i
			}
		}
		if p.MaxFileSize <= 0 {
			bad("%s.max_file_size %d: must be positive", field, p.MaxFileSize)
		}
		if p.MaxSessions < 1 || p.MaxSessions > maxSessionsLimit {
			bad("%s.max_sessions %d: must be 1-%d", field, p.MaxSessions, maxSessionsLimit)
		}
		if p.MaxPendingBytes != 0 && p.MaxPendingBytes < p.MaxFileSize {
			bad("%s.max_pending_bytes %d: must be at least max_file_size (%d), or 0 for 4 × max_file_size", field, p.MaxPendingBytes, p.MaxFileSize)
		}
		for j, r := range p.Remotes {
			r.validate(fmt.Sprintf("%s.remote[%d]", field, j), bad)
		}
	}
	return errors.Join(errs...)
}

// validate reports the problems of r through bad, naming fields from field.
func (r Remote) validate(field string, bad func(format string, args ...any)) {
	switch {
	case strings.TrimSpace(r.Host) == "":
		bad("%s.host: required", field)
	case validHostPort(r.Host):
		bad("%s.host %q: must not include a port; set port", field, r.Host)
	}
	if r.Port < 1 || r.Port > 65535 {
		bad("%s.port %d: must be 1-65535", field, r.Port)
	}
	if strings.TrimSpace(r.User) == "" {
		bad("%s.user: required", field)
	}
	if r.PrivateKey == "" {
		bad("%s.private_key: required", field)
	}
	if r.KnownHosts == "" {
		bad("%s.known_hosts: required", field)
	}
	switch {
	case r.InDir == "":
		bad("%s.in_dir: required", field)
	case !strings.HasPrefix(r.InDir, "/"):
		bad("%s.in_dir %q: must be an absolute path on the server, starting with /", field, r.InDir)
	}
	switch {
	case r.OutDir == "":
	case !strings.HasPrefix(r.OutDir, "/"):
		bad("%s.out_dir %q: must be an absolute path on the server, starting with /", field, r.OutDir)
	case r.InDir != "" && path.Clean(r.OutDir) == path.Clean(r.InDir):
		bad("%s.out_dir %q: must differ from in_dir, or status files would be fetched as deposits", field, r.OutDir)
	}
	if err := validSchedule(r.Schedule); err != nil {
		bad("%s.schedule %q: %v", field, r.Schedule, err)
	}
	if r.Timeout.Duration <= 0 {
		bad("%s.timeout %q: must be positive", field, r.Timeout)
	}
}

// validHostPort reports whether s is host:port with a numeric port
// 1-65535. The host may be empty (all interfaces).
func validHostPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

// validSchedule checks spec as cron.ParseStandard reads it. It also refuses
// an "@every" interval that the cron package would silently change: one
// below 1s (run every second) or with a fraction of a second (truncated).
func validSchedule(spec string) (err error) {
	if strings.TrimSpace(spec) == "" {
		return errors.New("required")
	}
	// cron v3.0.1 panics on a TZ= or CRON_TZ= prefix with nothing after it.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("not a valid schedule: %v", r)
		}
	}()
	if _, err := cron.ParseStandard(spec); err != nil {
		return err
	}
	const every = "@every "
	if i := strings.Index(spec, every); i >= 0 {
		d, err := time.ParseDuration(strings.TrimSpace(spec[i+len(every):]))
		if err == nil && (d < time.Second || d%time.Second != 0) {
			return errors.New("interval must be a whole number of seconds, at least 1s")
		}
	}
	return nil
}

// validID reports whether id can be a CPPStatut Emetteur/Recepteur Id as the
// hub writes them: 3 to 8 characters A-Z 0-9 (the CPPStatut schema
// requires at least 3).
func validID(id string) bool {
	if len(id) < 3 || len(id) > 8 { // CPPStatut partner ids are 3 to 8 characters
		return false
	}
	for _, r := range id {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// Partner returns the partner with the given id. The pointer aliases
// c.Partners, so it stays valid as long as that slice is not reassigned.
func (c *Config) Partner(id string) (*Partner, bool) {
	for i := range c.Partners {
		if c.Partners[i].ID == id {
			return &c.Partners[i], true
		}
	}
	return nil, false
}

// Level returns the slog level named by LogLevel, or slog.LevelInfo when it
// names none (Validate reports that case).
func (c *Config) Level() slog.Level {
	if l, ok := logLevels[c.LogLevel]; ok {
		return l
	}
	return slog.LevelInfo
}
