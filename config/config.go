package config

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
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
}

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
	// HubID is the hub's own partner id in the status files it emits.
	HubID    string    `toml:"hub_id"`
	Partners []Partner `toml:"partners"`
}

// Accepted values.
var (
	logFormats    = []string{"text", "json"}
	logLevels     = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
	statusFormats = []string{"cppstatut", "json"}
)

// DefaultConfig returns the values a file may leave out. Root, Directory and
// Partners have no default and must be set.
func DefaultConfig() Config {
	return Config{
		Settle:          Duration{2 * time.Second},
		Rescan:          Duration{time.Minute},
		ShutdownTimeout: Duration{30 * time.Second},
		LogFormat:       "text",
		LogLevel:        "info",
		HubID:           "FLOWGATE",
	}
}

// DefaultStatusFormats returns the status formats of a partner whose file
// entry does not list any.
func DefaultStatusFormats() []string { return slices.Clone(statusFormats) }

// Load reads the TOML file at path over DefaultConfig and returns the
// validated result. Unknown keys are refused, so a misspelt key is reported
// rather than silently ignored. Relative root, directory and database paths
// are taken from the config file's folder, not from the working directory,
// so the daemon reads the same files wherever it is started.
//
// A partner without status_formats gets DefaultStatusFormats. A decode error
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
	for i := range cfg.Partners {
		if len(cfg.Partners[i].StatusFormats) == 0 {
			cfg.Partners[i].StatusFormats = DefaultStatusFormats()
		}
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	cfg.Root = resolve(dir, cfg.Root)
	cfg.Directory = resolve(dir, cfg.Directory)
	cfg.Database = resolve(dir, cfg.Database)
	if cfg.Database == "" && cfg.Root != "" {
		cfg.Database = filepath.Join(cfg.Root, "flowgate.db")
	}
	if err := cfg.Validate(); err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return Config{}, fmt.Errorf("config %s: %w", path, errors.Join(problems...))
	}
	return cfg, nil
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
// file order). It returns nil when c is usable.
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
	if !slices.Contains(logFormats, c.LogFormat) {
		bad("log_format %q: must be text or json", c.LogFormat)
	}
	if _, ok := logLevels[c.LogLevel]; !ok {
		bad("log_level %q: must be debug, info, warn or error", c.LogLevel)
	}
	if !validID(c.HubID) {
		bad("hub_id %q: must be 3-8 characters A-Z 0-9", c.HubID)
	}

	if len(c.Partners) == 0 {
		bad("partners: at least one partner is required")
	}
	ids := map[string]int{}       // partner id → first index
	collector := map[string]int{} // recipient SIRET → index of the partner collecting it
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
			if !validSIRET(s) {
				bad("%s.sirets[%d] %q: must be 14 digits", field, j, s)
			}
		}
		for j, s := range p.Receives {
			if !validSIRET(s) {
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
			bad("%s.status_formats: at least one of cppstatut, json is required", field)
		}
		for j, f := range p.StatusFormats {
			switch {
			case !slices.Contains(statusFormats, f):
				bad("%s.status_formats[%d] %q: must be cppstatut or json", field, j, f)
			case slices.Index(p.StatusFormats, f) < j:
				bad("%s.status_formats[%d] %q: listed twice", field, j, f)
			}
		}
	}
	return errors.Join(errs...)
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

// validSIRET reports whether s has the shape of a SIRET. The checksum is not
// checked: the directory is authoritative on which SIRETs exist.
func validSIRET(s string) bool {
	if len(s) != 14 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
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
