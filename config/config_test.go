package config

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// minimal is the smallest valid file: every other key takes its default.
const minimal = `
root = "/srv/flowgate"
directory = "/srv/directory"
[[partners]]
id = "FOURN01"
name = "Fournitures Valmont"
sirets = ["73282932000074"]
`

// writeConfig writes text as flowgate.toml under a fresh temporary folder
// and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flowgate.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// problems splits a joined error into its messages.
func problems(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// checkProblems fails unless err holds exactly len(want) messages, the i-th
// containing want[i].
func checkProblems(t *testing.T, err error, want []string) {
	t.Helper()
	got := problems(err)
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(got), len(want), err)
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("problem %d = %q, want it to contain %q", i, got[i], want[i])
		}
	}
}

func TestLoadExample(t *testing.T) {
	got, err := Load(filepath.Join("testdata", "example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Root:            "/var/lib/flowgate",
		Directory:       "/etc/flowgate/directory",
		Database:        "/var/lib/flowgate/state/flowgate.db",
		Settle:          Duration{3 * time.Second},
		Rescan:          Duration{5 * time.Minute},
		ShutdownTimeout: Duration{45 * time.Second},
		MemoryLimit:     2 << 30,
		FlowTimeout:     Duration{2 * time.Minute},
		MaxAttempts:     5,
		LogFormat:       "json",
		LogLevel:        "debug",
		HubID:           "HUB01",
		SFTP: SFTP{
			Listen:               "127.0.0.1:2222",
			HostKey:              "/etc/flowgate/ssh_host_ed25519_key",
			MaxAuthTries:         3,
			HandshakeTimeout:     Duration{5 * time.Second},
			MaxPreAuthPerAddress: 4,
			UploadExpiry:         Duration{12 * time.Hour},
		},
		Partners: []Partner{
			{
				ID:              "FOURN01",
				Name:            "Billing system of Fournitures Valmont",
				SIRETs:          []string{"73282932000074", "73282932000082"},
				Receives:        []string{},
				StatusFormats:   []string{"cppstatut"},
				AuthorizedKeys:  "/etc/flowgate/keys/FOURN01.pub",
				MaxFileSize:     100 << 20,
				MaxSessions:     2,
				MaxPendingBytes: 200 << 20,
				Remotes: []Remote{{
					Host:       "sftp.fournitures-valmont.example",
					Port:       2222,
					User:       "flowgate",
					PrivateKey: "/etc/flowgate/keys/id_ed25519",
					KnownHosts: "/etc/flowgate/known_hosts",
					InDir:      "/depot",
					OutDir:     "/retours",
					Schedule:   "*/5 * * * *",
					Timeout:    Duration{20 * time.Second},
				}},
			},
			{
				ID:             "VALMONT",
				Name:           "Accounts payable of the Commune de Valmont-sur-Loire",
				SIRETs:         []string{},
				Receives:       []string{"21000001000012", "22000002000010"},
				StatusFormats:  []string{"json", "cppstatut"},
				AuthorizedKeys: "/etc/flowgate/keys/VALMONT.pub",
				MaxFileSize:    1 << 30,
				MaxSessions:    4,
				Remotes: []Remote{
					{
						Host:       "10.0.4.17",
						Port:       22,
						User:       "hub",
						PrivateKey: "/etc/flowgate/keys/id_ed25519",
						KnownHosts: "/etc/flowgate/known_hosts",
						InDir:      "/outgoing/invoices",
						Schedule:   "@every 30s",
						Timeout:    Duration{15 * time.Second},
					},
					{
						Host:       "2001:db8::17",
						Port:       22,
						User:       "hub",
						PrivateKey: "/etc/flowgate/keys/id_ed25519",
						KnownHosts: "/etc/flowgate/known_hosts",
						InDir:      "/outgoing/credit-notes",
						OutDir:     "/incoming/statuses",
						Schedule:   "@every 2m",
						Timeout:    Duration{15 * time.Second},
					},
				},
			},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(example.toml) =\n%+v\nwant\n%+v", got, want)
	}
	if got.Level() != slog.LevelDebug {
		t.Errorf("Level() = %v, want DEBUG", got.Level())
	}
	for _, c := range []struct{ got, want string }{
		{got.Partners[0].Remotes[0].Addr(), "sftp.fournitures-valmont.example:2222"},
		{got.Partners[1].Remotes[0].Addr(), "10.0.4.17:22"},
		{got.Partners[1].Remotes[1].Addr(), "[2001:db8::17]:22"},
	} {
		if c.got != c.want {
			t.Errorf("Addr() = %q, want %q", c.got, c.want)
		}
	}
}

func TestLoadDefaults(t *testing.T) {
	got, err := Load(writeConfig(t, minimal))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Root = "/srv/flowgate"
	want.Directory = "/srv/directory"
	want.Database = filepath.Join("/srv/flowgate", "flowgate.db")
	want.Partners = []Partner{{
		ID:            "FOURN01",
		Name:          "Fournitures Valmont",
		SIRETs:        []string{"73282932000074"},
		StatusFormats: []string{"cppstatut", "json"},
		MaxFileSize:   1 << 30,
		MaxSessions:   4,
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(minimal) =\n%+v\nwant\n%+v", got, want)
	}
	d := DefaultConfig()
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"settle", d.Settle.Duration, 2 * time.Second},
		{"rescan", d.Rescan.Duration, time.Minute},
		{"shutdown_timeout", d.ShutdownTimeout.Duration, 30 * time.Second},
		{"memory_limit", d.MemoryLimit, int64(1 << 30)},
		{"flow_timeout", d.FlowTimeout.Duration, time.Minute},
		{"max_attempts", d.MaxAttempts, 3},
		{"log_format", d.LogFormat, "text"},
		{"log_level", d.LogLevel, "info"},
		{"hub_id", d.HubID, "FLOWGATE"},
		{"level", d.Level(), slog.LevelInfo},
		{"sftp", d.SFTP, SFTP{MaxAuthTries: 6}},
	} {
		if c.got != c.want {
			t.Errorf("DefaultConfig %s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestLoadSFTPDefaults checks the defaults of the SFTP keys: host_key under
// root when listen is set, partner limits, and remote port, schedule and
// timeout.
func TestLoadSFTPDefaults(t *testing.T) {
	got, err := Load(writeConfig(t, `
root = "/srv/flowgate"
directory = "/srv/directory"
[sftp]
listen = ":2222"
[[partners]]
id = "FOURN01"
name = "Fournitures Valmont"
authorized_keys = "/etc/flowgate/FOURN01.pub"
[[partners.remote]]
host = "sftp.example"
user = "hub"
private_key = "/etc/flowgate/id_ed25519"
known_hosts = "/etc/flowgate/known_hosts"
in_dir = "/depot"
`))
	if err != nil {
		t.Fatal(err)
	}
	wantSFTP := SFTP{Listen: ":2222", HostKey: "/srv/flowgate/ssh_host_ed25519_key", MaxAuthTries: 6}
	if got.SFTP != wantSFTP {
		t.Errorf("SFTP = %+v, want %+v", got.SFTP, wantSFTP)
	}
	p := got.Partners[0]
	if p.MaxFileSize != 1<<30 || p.MaxSessions != 4 {
		t.Errorf("max_file_size, max_sessions = %d, %d; want %d, 4", p.MaxFileSize, p.MaxSessions, 1<<30)
	}
	wantRemote := Remote{
		Host: "sftp.example", Port: 22, User: "hub",
		PrivateKey: "/etc/flowgate/id_ed25519", KnownHosts: "/etc/flowgate/known_hosts",
		InDir: "/depot", Schedule: "@every 30s", Timeout: Duration{15 * time.Second},
	}
	if !reflect.DeepEqual(p.Remotes, []Remote{wantRemote}) {
		t.Errorf("remotes = %+v, want [%+v]", p.Remotes, wantRemote)
	}
	if got.Partners[0].Remotes[0].Addr() != "sftp.example:22" {
		t.Errorf("Addr() = %q", got.Partners[0].Remotes[0].Addr())
	}

	// Without listen there is no server, so no host key either.
	got, err = Load(writeConfig(t, minimal))
	if err != nil {
		t.Fatal(err)
	}
	if got.SFTP != (SFTP{MaxAuthTries: 6}) {
		t.Errorf("SFTP without listen = %+v, want only max_auth_tries 6", got.SFTP)
	}
}

func TestApplyDefaults(t *testing.T) {
	// Unset values get their defaults...
	c := DefaultConfig()
	c.Root = "/srv/flowgate"
	c.SFTP.Listen = "127.0.0.1:2222"
	c.Partners = []Partner{{ID: "FOURN01", Remotes: []Remote{{Host: "h"}}}}
	c.ApplyDefaults()
	want := DefaultConfig()
	want.Root = "/srv/flowgate"
	want.Database = "/srv/flowgate/flowgate.db"
	want.SFTP = SFTP{Listen: "127.0.0.1:2222", HostKey: "/srv/flowgate/ssh_host_ed25519_key", MaxAuthTries: 6}
	want.Partners = []Partner{{
		ID: "FOURN01", StatusFormats: []string{"cppstatut", "json"}, MaxFileSize: 1 << 30, MaxSessions: 4,
		Remotes: []Remote{{Host: "h", Port: 22, Schedule: "@every 30s", Timeout: Duration{15 * time.Second}}},
	}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("ApplyDefaults =\n%+v\nwant\n%+v", c, want)
	}

	// ...set ones, even invalid, are kept for Validate to report.
	set := Config{
		Root: "/srv/flowgate", Database: "/db/f.db",
		SFTP: SFTP{Listen: ":22", HostKey: "/k", MaxAuthTries: -1},
		Partners: []Partner{{
			StatusFormats: []string{"pdf"}, MaxFileSize: -1, MaxSessions: 5000,
			Remotes: []Remote{{Port: 70000, Schedule: "bogus", Timeout: Duration{-time.Second}}},
		}},
	}
	before := set
	before.Partners = []Partner{set.Partners[0]}
	before.Partners[0].Remotes = []Remote{set.Partners[0].Remotes[0]}
	set.ApplyDefaults()
	if !reflect.DeepEqual(set, before) {
		t.Errorf("ApplyDefaults changed set values:\n%+v\nwas\n%+v", set, before)
	}

	// No root, no path defaults: Validate reports root instead.
	var empty Config
	empty.SFTP.Listen = ":2222"
	empty.ApplyDefaults()
	if empty.Database != "" || empty.SFTP.HostKey != "" {
		t.Errorf("ApplyDefaults without root set database %q, host_key %q", empty.Database, empty.SFTP.HostKey)
	}
}

// TestLoadDefaultStatusFormatsNotShared guards against partners sharing one
// default slice, where editing one partner's formats would change another's.
func TestLoadDefaultStatusFormatsNotShared(t *testing.T) {
	cfg, err := Load(writeConfig(t, minimal+`
[[partners]]
id = "FOURN02"
name = "Second"
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Partners[0].StatusFormats[0] = "changed"
	if cfg.Partners[1].StatusFormats[0] != "cppstatut" || DefaultStatusFormats()[0] != "cppstatut" {
		t.Error("partners share their default status_formats slice")
	}
}

func TestLoadRelativePaths(t *testing.T) {
	tests := []struct {
		name                            string
		root, directory, database       string
		wantRoot, wantDir, wantDatabase string // relative to the config file's folder unless absolute
	}{
		{"relative", "state", "../directory", "", "state", "../directory", "state/flowgate.db"},
		{"dot", ".", "./directory", "db/flowgate.db", ".", "directory", "db/flowgate.db"},
		{"absolute", "/srv/flowgate", "/srv/directory", "/srv/db/f.db", "/srv/flowgate", "/srv/directory", "/srv/db/f.db"},
		{"mixed", "/srv/flowgate", "directory", "", "/srv/flowgate", "directory", "/srv/flowgate/flowgate.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "etc")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "flowgate.toml")
			text := strings.Replace(minimal, `root = "/srv/flowgate"
directory = "/srv/directory"`, `root = "`+tt.root+`"
directory = "`+tt.directory+`"
database = "`+tt.database+`"`, 1)
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			// Load from another working directory: paths must follow the file.
			t.Chdir(t.TempDir())
			cfg, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			abs := func(p string) string {
				if filepath.IsAbs(p) {
					return filepath.Clean(p)
				}
				return filepath.Join(dir, p)
			}
			for _, c := range []struct{ key, got, want string }{
				{"root", cfg.Root, abs(tt.wantRoot)},
				{"directory", cfg.Directory, abs(tt.wantDir)},
				{"database", cfg.Database, abs(tt.wantDatabase)},
			} {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.key, c.got, c.want)
				}
			}
		})
	}
}

func TestLoadRelativeKeyPaths(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "flowgate.toml")
	text := `
root = "state"
directory = "/srv/directory"
[sftp]
listen = "127.0.0.1:2222"
host_key = "keys/host_key"
[[partners]]
id = "FOURN01"
name = "Fournitures Valmont"
authorized_keys = "./keys/FOURN01.pub"
[[partners.remote]]
host = "sftp.example"
user = "hub"
private_key = "../secrets/id_ed25519"
known_hosts = "/etc/ssh/known_hosts"
in_dir = "/depot"
out_dir = "/retours/"
[[partners]]
id = "VALMONT"
name = "Commune de Valmont"
authorized_keys = "/etc/flowgate/VALMONT.pub"
[[partners.remote]]
host = "sftp.example"
user = "hub"
private_key = "id_ed25519"
known_hosts = "known_hosts"
in_dir = "/a/../depot"
`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	// Load from another working directory: paths must follow the file.
	t.Chdir(t.TempDir())
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p0, p1 := cfg.Partners[0], cfg.Partners[1]
	for _, c := range []struct{ key, got, want string }{
		{"sftp.host_key", cfg.SFTP.HostKey, filepath.Join(dir, "keys", "host_key")},
		{"partners[0].authorized_keys", p0.AuthorizedKeys, filepath.Join(dir, "keys", "FOURN01.pub")},
		{"partners[0].remote[0].private_key", p0.Remotes[0].PrivateKey, filepath.Join(filepath.Dir(dir), "secrets", "id_ed25519")},
		{"partners[0].remote[0].known_hosts", p0.Remotes[0].KnownHosts, "/etc/ssh/known_hosts"},
		{"partners[0].remote[0].in_dir", p0.Remotes[0].InDir, "/depot"},      // a server path: as written
		{"partners[0].remote[0].out_dir", p0.Remotes[0].OutDir, "/retours/"}, // a server path: as written
		{"partners[1].authorized_keys", p1.AuthorizedKeys, "/etc/flowgate/VALMONT.pub"},
		{"partners[1].remote[0].private_key", p1.Remotes[0].PrivateKey, filepath.Join(dir, "id_ed25519")},
		{"partners[1].remote[0].known_hosts", p1.Remotes[0].KnownHosts, filepath.Join(dir, "known_hosts")},
		{"partners[1].remote[0].in_dir", p1.Remotes[0].InDir, "/a/../depot"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.key, c.got, c.want)
		}
	}

	// The default host key follows a relative root.
	text = strings.Replace(text, `host_key = "keys/host_key"`, "", 1)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "state", "ssh_host_ed25519_key"); cfg.SFTP.HostKey != want {
		t.Errorf("default sftp.host_key = %q, want %q", cfg.SFTP.HostKey, want)
	}
}

// valid returns a configuration that passes Validate, for tests to break
// one field at a time.
func valid() Config {
	c := DefaultConfig()
	c.Root = "/srv/flowgate"
	c.Directory = "/srv/directory"
	c.Database = "/srv/flowgate/flowgate.db"
	c.SFTP = SFTP{Listen: "127.0.0.1:2222", HostKey: "/srv/flowgate/ssh_host_ed25519_key", MaxAuthTries: 6}
	c.Partners = []Partner{
		{ID: "FOURN01", Name: "Fournitures Valmont", SIRETs: []string{"73282932000074"}, StatusFormats: []string{"cppstatut", "json"},
			AuthorizedKeys: "/etc/flowgate/FOURN01.pub", MaxFileSize: 1 << 30, MaxSessions: 4},
		{ID: "VALMONT", Name: "Commune de Valmont", Receives: []string{"21000001000012"}, StatusFormats: []string{"json"},
			MaxFileSize: 1 << 30, MaxSessions: 4,
			Remotes: []Remote{
				{Host: "sftp.valmont.example", Port: 22, User: "hub", PrivateKey: "/etc/flowgate/id_ed25519", KnownHosts: "/etc/flowgate/known_hosts",
					InDir: "/depot", OutDir: "/retours", Schedule: "@every 30s", Timeout: Duration{15 * time.Second}},
				{Host: "10.0.0.7", Port: 2222, User: "hub", PrivateKey: "/etc/flowgate/id_ed25519", KnownHosts: "/etc/flowgate/known_hosts",
					InDir: "/out", Schedule: "*/5 * * * *", Timeout: Duration{15 * time.Second}},
			}},
	}
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string // one substring per expected problem, in order
	}{
		{"valid", func(*Config) {}, nil},
		{"root empty", func(c *Config) { c.Root = "" }, []string{"root: required"}},
		{"directory empty", func(c *Config) { c.Directory = "" }, []string{"directory: required"}},
		{"settle zero", func(c *Config) { c.Settle = Duration{} }, []string{`settle "0s": must be positive`}},
		{"settle negative", func(c *Config) { c.Settle = Duration{-time.Second} }, []string{`settle "-1s": must be positive`}},
		{"rescan too short", func(c *Config) { c.Rescan = Duration{500 * time.Millisecond} }, []string{`rescan "500ms": must be at least 1s`}},
		{"rescan 1s", func(c *Config) { c.Rescan = Duration{time.Second} }, nil},
		{"shutdown_timeout zero", func(c *Config) { c.ShutdownTimeout = Duration{} }, []string{`shutdown_timeout "0s": must be positive`}},
		{"memory_limit small", func(c *Config) { c.MemoryLimit = 1 << 20 }, []string{`memory_limit 1048576: must be at least 268435456`}},
		{"flow_timeout small", func(c *Config) { c.FlowTimeout = Duration{time.Millisecond} }, []string{`flow_timeout "1ms": must be at least 1s`}},
		{"max_attempts zero", func(c *Config) { c.MaxAttempts = 0 }, []string{`max_attempts 0: must be 1-100`}},
		{"log_format", func(c *Config) { c.LogFormat = "xml" }, []string{`log_format "xml": must be text or json`}},
		{"log_level", func(c *Config) { c.LogLevel = "verbose" }, []string{`log_level "verbose": must be debug, info, warn or error`}},
		{"log_level upper case", func(c *Config) { c.LogLevel = "INFO" }, []string{`log_level "INFO"`}},
		{"hub_id lower case", func(c *Config) { c.HubID = "hub" }, []string{`hub_id "hub": must be 3-8 characters A-Z 0-9`}},
		{"hub_id too long", func(c *Config) { c.HubID = "FLOWGATE9" }, []string{`hub_id "FLOWGATE9": must be 3-8`}},
		{"hub_id empty", func(c *Config) { c.HubID = "" }, []string{`hub_id "": must be 3-8`}},
		{"hub_id is a partner", func(c *Config) { c.HubID = "VALMONT" }, []string{`hub_id "VALMONT": must differ from partners[1].id`}},
		{"no partners", func(c *Config) { c.Partners = nil }, []string{"partners: at least one partner is required"}},
		{"no partners without sftp", func(c *Config) { c.Partners = nil; c.SFTP.Listen = "" }, []string{"partners: at least one partner is required"}},
		{"partner id with space", func(c *Config) { c.Partners[1].ID = "fourn 1" }, []string{`partners[1].id "fourn 1": must be 3-8 characters A-Z 0-9`}},
		{"partner id empty", func(c *Config) { c.Partners[0].ID = "" }, []string{`partners[0].id "": must be 3-8`}},
		{"partner id too short for CPPStatut", func(c *Config) { c.Partners[0].ID = "AB" }, []string{`partners[0].id "AB": must be 3-8 characters A-Z 0-9`}},
		{"partner id too long", func(c *Config) { c.Partners[0].ID = "FOURN0001" }, []string{`partners[0].id "FOURN0001": must be 3-8`}},
		{"partner id accented", func(c *Config) { c.Partners[0].ID = "ÉTAT" }, []string{`partners[0].id "ÉTAT": must be 3-8`}},
		{"partner id duplicate", func(c *Config) { c.Partners[1].ID = "FOURN01" }, []string{`partners[1].id "FOURN01": already used by partners[0]`}},
		{"partner name empty", func(c *Config) { c.Partners[0].Name = " " }, []string{"partners[0].name: required"}},
		{"siret short", func(c *Config) { c.Partners[0].SIRETs = []string{"7328293200007"} }, []string{`partners[0].sirets[0] "7328293200007": must be 14 digits`}},
		{"siret letters", func(c *Config) { c.Partners[0].SIRETs = append(c.Partners[0].SIRETs, "7328293200007A") }, []string{`partners[0].sirets[1] "7328293200007A": must be 14 digits`}},
		{"siret spaces", func(c *Config) { c.Partners[0].SIRETs = []string{"732 829 320 00074"} }, []string{`partners[0].sirets[0] "732 829 320 00074"`}},
		{"siret non-ASCII digits", func(c *Config) { c.Partners[0].SIRETs = []string{"٧٣٢٨٢٩٣٢٠٠٠٠٧٤"} }, []string{`partners[0].sirets[0]`}},
		{"siret bad checksum accepted", func(c *Config) { c.Partners[0].SIRETs = []string{"12345678901234"} }, nil},
		{"supplier in two partners accepted", func(c *Config) { c.Partners[1].SIRETs = []string{"73282932000074"} }, nil},
		{"receives bad", func(c *Config) { c.Partners[1].Receives = []string{"210000010000"} }, []string{`partners[1].receives[0] "210000010000": must be 14 digits`}},
		{"recipient in two partners", func(c *Config) { c.Partners[0].Receives = []string{"21000001000012"} }, []string{`partners[1].receives[0] "21000001000012": already received by partners[0] (FOURN01)`}},
		{"recipient twice in one partner accepted", func(c *Config) { c.Partners[1].Receives = append(c.Partners[1].Receives, "21000001000012") }, nil},
		{"status_formats empty", func(c *Config) { c.Partners[1].StatusFormats = nil }, []string{"partners[1].status_formats: at least one of cppstatut, json, cdar is required"}},
		{"status_formats cdar", func(c *Config) { c.Partners[0].StatusFormats = []string{"cdar"} }, nil},
		{"status_formats unknown", func(c *Config) { c.Partners[0].StatusFormats = []string{"json", "pdf"} }, []string{`partners[0].status_formats[1] "pdf": must be cppstatut, json or cdar`}},
		{"status_formats duplicate", func(c *Config) { c.Partners[0].StatusFormats = []string{"json", "cppstatut", "json"} }, []string{`partners[0].status_formats[2] "json": listed twice`}},

		// [sftp]
		{"sftp listen without host accepted", func(c *Config) { c.SFTP.Listen = ":2222" }, nil},
		{"sftp listen IPv6 accepted", func(c *Config) { c.SFTP.Listen = "[::1]:2222" }, nil},
		{"sftp listen without port", func(c *Config) { c.SFTP.Listen = "127.0.0.1" }, []string{`sftp.listen "127.0.0.1": must be host:port with a port 1-65535`}},
		{"sftp listen port zero", func(c *Config) { c.SFTP.Listen = "127.0.0.1:0" }, []string{`sftp.listen "127.0.0.1:0": must be host:port`}},
		{"sftp listen port too big", func(c *Config) { c.SFTP.Listen = ":65536" }, []string{`sftp.listen ":65536": must be host:port`}},
		{"sftp listen port named", func(c *Config) { c.SFTP.Listen = "localhost:ssh" }, []string{`sftp.listen "localhost:ssh": must be host:port`}},
		{"sftp listen empty port", func(c *Config) { c.SFTP.Listen = "localhost:" }, []string{`sftp.listen "localhost:": must be host:port`}},
		{"sftp host_key empty", func(c *Config) { c.SFTP.HostKey = "" }, []string{"sftp.host_key: required when listen is set"}},
		{"sftp max_auth_tries zero", func(c *Config) { c.SFTP.MaxAuthTries = 0 }, []string{"sftp.max_auth_tries 0: must be 1-100"}},
		{"sftp max_auth_tries 101", func(c *Config) { c.SFTP.MaxAuthTries = 101 }, []string{"sftp.max_auth_tries 101: must be 1-100"}},
		{"sftp max_auth_tries 100", func(c *Config) { c.SFTP.MaxAuthTries = 100 }, nil},
		{"sftp handshake_timeout negative", func(c *Config) { c.SFTP.HandshakeTimeout = Duration{-time.Second} }, []string{`sftp.handshake_timeout "-1s": must not be negative`}},
		{"sftp max_preauth_per_address negative", func(c *Config) { c.SFTP.MaxPreAuthPerAddress = -1 }, []string{"sftp.max_preauth_per_address -1: must be 1-1000"}},
		{"sftp upload_expiry negative", func(c *Config) { c.SFTP.UploadExpiry = Duration{-time.Hour} }, []string{`sftp.upload_expiry "-1h0m0s": must not be negative`}},
		{"max_pending_bytes below max_file_size", func(c *Config) { c.Partners[0].MaxPendingBytes = 1000 }, []string{"partners[0].max_pending_bytes 1000: must be at least max_file_size"}},
		{"max_pending_bytes set", func(c *Config) { c.Partners[0].MaxPendingBytes = 2 << 30 }, nil},
		{"sftp max_auth_tries checked without listen", func(c *Config) {
			c.SFTP.Listen = ""
			c.Partners[0].AuthorizedKeys = ""
			c.SFTP.MaxAuthTries = -1
		}, []string{"sftp.max_auth_tries -1: must be 1-100"}},
		{"no sftp server, no authorized_keys accepted", func(c *Config) { c.SFTP = SFTP{MaxAuthTries: 6}; c.Partners[0].AuthorizedKeys = "" }, nil},
		{"sftp listen but no partner has keys", func(c *Config) { c.Partners[0].AuthorizedKeys = "" }, []string{"sftp.listen: no partner has authorized_keys"}},
		{"authorized_keys without listen", func(c *Config) { c.SFTP.Listen = "" }, []string{"partners[0].authorized_keys: set but [sftp] listen is empty"}},
		{"authorized_keys shared", func(c *Config) { c.Partners[1].AuthorizedKeys = "/etc/flowgate/../flowgate/FOURN01.pub" }, []string{`partners[1].authorized_keys "/etc/flowgate/../flowgate/FOURN01.pub": already used by partners[0]`}},

		// partner limits
		{"max_file_size zero", func(c *Config) { c.Partners[0].MaxFileSize = 0 }, []string{"partners[0].max_file_size 0: must be positive"}},
		{"max_file_size negative", func(c *Config) { c.Partners[1].MaxFileSize = -5 }, []string{"partners[1].max_file_size -5: must be positive"}},
		{"max_file_size one byte", func(c *Config) { c.Partners[1].MaxFileSize = 1 }, nil},
		{"max_sessions zero", func(c *Config) { c.Partners[0].MaxSessions = 0 }, []string{"partners[0].max_sessions 0: must be 1-1000"}},
		{"max_sessions 1001", func(c *Config) { c.Partners[1].MaxSessions = 1001 }, []string{"partners[1].max_sessions 1001: must be 1-1000"}},
		{"max_sessions 1000", func(c *Config) { c.Partners[1].MaxSessions = 1000 }, nil},

		// [[partners.remote]]
		{"remote host empty", func(c *Config) { c.Partners[1].Remotes[1].Host = " " }, []string{"partners[1].remote[1].host: required"}},
		{"remote host with port", func(c *Config) { c.Partners[1].Remotes[0].Host = "sftp.valmont.example:22" }, []string{`partners[1].remote[0].host "sftp.valmont.example:22": must not include a port`}},
		{"remote host IPv6 accepted", func(c *Config) { c.Partners[1].Remotes[0].Host = "2001:db8::1" }, nil},
		{"remote port zero", func(c *Config) { c.Partners[1].Remotes[0].Port = 0 }, []string{"partners[1].remote[0].port 0: must be 1-65535"}},
		{"remote port too big", func(c *Config) { c.Partners[1].Remotes[1].Port = 65536 }, []string{"partners[1].remote[1].port 65536: must be 1-65535"}},
		{"remote user empty", func(c *Config) { c.Partners[1].Remotes[0].User = "" }, []string{"partners[1].remote[0].user: required"}},
		{"remote private_key empty", func(c *Config) { c.Partners[1].Remotes[0].PrivateKey = "" }, []string{"partners[1].remote[0].private_key: required"}},
		{"remote known_hosts empty", func(c *Config) { c.Partners[1].Remotes[1].KnownHosts = "" }, []string{"partners[1].remote[1].known_hosts: required"}},
		{"remote key files not read", func(c *Config) {
			c.Partners[1].Remotes[0].PrivateKey = "/nonexistent/id_ed25519"
			c.Partners[1].Remotes[0].KnownHosts = "/nonexistent/known_hosts"
			c.Partners[0].AuthorizedKeys = "/nonexistent/FOURN01.pub"
			c.SFTP.HostKey = "/nonexistent/host_key"
		}, nil},
		{"remote in_dir empty", func(c *Config) { c.Partners[1].Remotes[0].InDir = "" }, []string{"partners[1].remote[0].in_dir: required"}},
		{"remote in_dir relative", func(c *Config) { c.Partners[1].Remotes[0].InDir = "depot" }, []string{`partners[1].remote[0].in_dir "depot": must be an absolute path on the server, starting with /`}},
		{"remote in_dir root accepted", func(c *Config) { c.Partners[1].Remotes[1].InDir = "/" }, nil},
		{"remote out_dir relative", func(c *Config) { c.Partners[1].Remotes[0].OutDir = "./retours" }, []string{`partners[1].remote[0].out_dir "./retours": must be an absolute path`}},
		{"remote out_dir same as in_dir", func(c *Config) { c.Partners[1].Remotes[0].OutDir = "/depot/" }, []string{`partners[1].remote[0].out_dir "/depot/": must differ from in_dir`}},
		{"remote out_dir under in_dir accepted", func(c *Config) { c.Partners[1].Remotes[0].OutDir = "/depot/statuts" }, nil},
		{"remote schedule empty", func(c *Config) { c.Partners[1].Remotes[0].Schedule = "" }, []string{`partners[1].remote[0].schedule "": required`}},
		{"remote schedule garbage", func(c *Config) { c.Partners[1].Remotes[0].Schedule = "every 30s" }, []string{`partners[1].remote[0].schedule "every 30s": expected exactly 5 fields`}},
		{"remote schedule 6 fields", func(c *Config) { c.Partners[1].Remotes[1].Schedule = "0 */5 * * * *" }, []string{`partners[1].remote[1].schedule "0 */5 * * * *": expected exactly 5 fields`}},
		{"remote schedule out of range", func(c *Config) { c.Partners[1].Remotes[1].Schedule = "61 * * * *" }, []string{`partners[1].remote[1].schedule "61 * * * *": end of range (61) above maximum (59)`}},
		{"remote schedule bad every", func(c *Config) { c.Partners[1].Remotes[0].Schedule = "@every 30" }, []string{`partners[1].remote[0].schedule "@every 30": failed to parse duration`}},
		{"remote schedule every zero", func(c *Config) { c.Partners[1].Remotes[0].Schedule = "@every 0s" }, []string{`partners[1].remote[0].schedule "@every 0s": interval must be a whole number of seconds, at least 1s`}},
		{"remote schedule every fraction", func(c *Config) { c.Partners[1].Remotes[0].Schedule = "@every 1500ms" }, []string{`partners[1].remote[0].schedule "@every 1500ms": interval must be a whole number`}},
		{"remote schedule every 1s", func(c *Config) { c.Partners[1].Remotes[0].Schedule = "@every 1s" }, nil},
		{"remote schedule descriptor", func(c *Config) { c.Partners[1].Remotes[0].Schedule = "@hourly" }, nil},
		{"remote schedule unknown descriptor", func(c *Config) { c.Partners[1].Remotes[0].Schedule = "@often" }, []string{`partners[1].remote[0].schedule "@often": unrecognized descriptor`}},
		{"remote schedule bare time zone", func(c *Config) { c.Partners[1].Remotes[0].Schedule = "CRON_TZ=UTC" }, []string{`partners[1].remote[0].schedule "CRON_TZ=UTC": not a valid schedule`}},
		{"remote timeout zero", func(c *Config) { c.Partners[1].Remotes[0].Timeout = Duration{} }, []string{`partners[1].remote[0].timeout "0s": must be positive`}},
		{"remote timeout negative", func(c *Config) { c.Partners[1].Remotes[1].Timeout = Duration{-time.Second} }, []string{`partners[1].remote[1].timeout "-1s": must be positive`}},
		{"remote empty", func(c *Config) { c.Partners[0].Remotes = []Remote{{}} }, []string{
			"partners[0].remote[0].host: required",
			"partners[0].remote[0].port 0",
			"partners[0].remote[0].user: required",
			"partners[0].remote[0].private_key: required",
			"partners[0].remote[0].known_hosts: required",
			"partners[0].remote[0].in_dir: required",
			"partners[0].remote[0].schedule \"\": required",
			"partners[0].remote[0].timeout \"0s\"",
		}},
		{
			"several problems at once",
			func(c *Config) {
				c.Root = ""
				c.Rescan = Duration{0}
				c.LogFormat = "xml"
				c.Partners[0].ID = "bad id"
				c.Partners[1].Name = ""
				c.Partners[1].StatusFormats = []string{"pdf"}
				c.SFTP.Listen = "localhost"
				c.SFTP.MaxAuthTries = 0
				c.Partners[0].MaxSessions = -1
				c.Partners[1].MaxFileSize = 0
				c.Partners[1].Remotes[0].InDir = "depot"
				c.Partners[1].Remotes[1].Schedule = "hourly"
				c.Partners[1].Remotes[1].Port = 0
			},
			[]string{
				"root: required",
				`rescan "0s"`,
				`log_format "xml"`,
				`sftp.listen "localhost"`,
				"sftp.max_auth_tries 0",
				`partners[0].id "bad id"`,
				"partners[0].max_sessions -1",
				"partners[1].name: required",
				`partners[1].status_formats[0] "pdf"`,
				"partners[1].max_file_size 0",
				`partners[1].remote[0].in_dir "depot"`,
				"partners[1].remote[1].port 0",
				`partners[1].remote[1].schedule "hourly"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.modify(&c)
			checkProblems(t, c.Validate(), tt.want)
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	path := writeConfig(t, `
directory = "/srv/directory"
settle = "0s"
log_level = "trace"
hub_id = "FOURN01"
[sftp]
listen = "0.0.0.0:22222222"
max_auth_tries = 0
[[partners]]
id = "FOURN01"
name = ""
sirets = ["123"]
status_formats = ["xml"]
max_sessions = 2000
[[partners]]
id = "fourn 1"
name = "Second"
receives = ["21000001000012", "21000001000012"]
max_file_size = -1
[[partners.remote]]
host = "sftp.example"
port = 99999
user = "hub"
private_key = "id"
known_hosts = "kh"
in_dir = "/same"
out_dir = "/same"
schedule = "@every 1ms"
timeout = "-2s"
[[partners]]
id = "THIRD"
name = "Third"
receives = ["21000001000012"]
[[partners.remote]]
`)
	_, err := Load(path)
	if err == nil {
		t.Fatal("Load succeeded, want errors")
	}
	if !strings.HasPrefix(err.Error(), "config "+path+": ") {
		t.Errorf("error %q does not name the file", err)
	}
	checkProblems(t, err, []string{
		"root: required",
		`settle "0s": must be positive`,
		`log_level "trace"`,
		`sftp.listen "0.0.0.0:22222222": must be host:port with a port 1-65535`,
		"sftp.host_key: required when listen is set", // no root, so no default
		"sftp.listen: no partner has authorized_keys",
		"sftp.max_auth_tries 0: must be 1-100",
		`hub_id "FOURN01": must differ from partners[0].id`,
		"partners[0].name: required",
		`partners[0].sirets[0] "123": must be 14 digits`,
		`partners[0].status_formats[0] "xml"`,
		"partners[0].max_sessions 2000: must be 1-1000",
		`partners[1].id "fourn 1": must be 3-8 characters A-Z 0-9`,
		"partners[1].max_file_size -1: must be positive",
		"partners[1].remote[0].port 99999: must be 1-65535",
		`partners[1].remote[0].out_dir "/same": must differ from in_dir`,
		`partners[1].remote[0].schedule "@every 1ms": interval must be a whole number of seconds, at least 1s`,
		`partners[1].remote[0].timeout "-2s": must be positive`,
		`partners[2].receives[0] "21000001000012": already received by partners[1] (fourn 1)`,
		"partners[2].remote[0].host: required",
		"partners[2].remote[0].user: required",
		"partners[2].remote[0].private_key: required",
		"partners[2].remote[0].known_hosts: required",
		"partners[2].remote[0].in_dir: required",
	})
}

func TestLoadUnknownKeys(t *testing.T) {
	tests := []struct {
		name, extra string
		want        []string
	}{
		{"top level", `rot = "/srv"`, []string{"unknown key rot"}},
		{"table", "[logging]\nlevel = \"debug\"", []string{"unknown key logging"}},
		{"partner table", "[[partners]]\nid = \"FOURN02\"\nname = \"Second\"\n[partners.sftp]\nhost = \"x\"", []string{"unknown key partners.sftp"}},
		{"several", "rot = 1\nlevel = 2", []string{"unknown key rot", "unknown key level"}},
		{"partner", "[[partners]]\nid = \"FOURN02\"\nname = \"Second\"\nrecieves = [\"21000001000012\"]", []string{"unknown key partners.recieves"}},
		{"sftp", "[sftp]\nlisten = \"\"\nhostkey = \"/k\"", []string{"unknown key sftp.hostkey"}},
		{"sftp table", "[sftp.server]\nlisten = \":2222\"", []string{"unknown key sftp.server"}},
		{"partner limit", "[[partners]]\nid = \"FOURN02\"\nname = \"Second\"\nmax_file_size_bytes = 1", []string{"unknown key partners.max_file_size_bytes"}},
		{"remote", "[[partners]]\nid = \"FOURN02\"\nname = \"Second\"\n[[partners.remote]]\nhost = \"h\"\nuser = \"hub\"\nprivate_key = \"k\"\nknown_hosts = \"kh\"\nin_dir = \"/in\"\nusername = \"hub\"\npassword = \"secret\"", []string{"unknown key partners.remote.username", "unknown key partners.remote.password"}},
		{"remotes plural", "[[partners]]\nid = \"FOURN02\"\nname = \"Second\"\n[[partners.remotes]]\nhost = \"h\"", []string{"unknown key partners.remotes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Top-level keys must precede minimal's [[partners]]; a table
			// follows it, or it would capture minimal's top-level keys.
			text := tt.extra + "\n" + minimal
			if strings.HasPrefix(tt.extra, "[") {
				text = minimal + "\n" + tt.extra
			}
			_, err := Load(writeConfig(t, text))
			checkProblems(t, err, tt.want)
		})
	}
}

func TestLoadDecodeErrors(t *testing.T) {
	tests := []struct {
		name, line string
		want       []string
	}{
		{"duration without unit", `settle = "2"`, []string{`invalid duration "2"`, `"2s"`, "settle"}},
		{"duration words", `rescan = "one minute"`, []string{`invalid duration "one minute"`, "rescan"}},
		{"duration as number", `shutdown_timeout = 30`, []string{"shutdown_timeout"}},
		{"string as list", `root = ["/srv"]`, []string{"root"}},
		{"remote timeout without unit", "[[partners]]\nid = \"FOURN02\"\nname = \"Second\"\n[[partners.remote]]\ntimeout = \"15\"", []string{`invalid duration "15"`, "timeout"}},
		{"port as string", "[[partners]]\nid = \"FOURN02\"\nname = \"Second\"\n[[partners.remote]]\nport = \"22\"", []string{"port"}},
		{"max_file_size as text", "[[partners]]\nid = \"FOURN02\"\nname = \"Second\"\nmax_file_size = \"1GiB\"", []string{"max_file_size"}},
		{"sftp as string", `sftp = "127.0.0.1:2222"`, []string{"sftp"}},
		{"bad toml", `root = `, []string{"line 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// As in TestLoadUnknownKeys, a table follows minimal's keys.
			text := tt.line + "\n" + strings.Replace(minimal, "root =", "#", 1)
			if strings.HasPrefix(tt.line, "[") {
				text = strings.Replace(minimal, "root =", "#", 1) + "\n" + tt.line
			}
			path := writeConfig(t, text)
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range append([]string{path}, tt.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.toml")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestDurationText(t *testing.T) {
	tests := []struct {
		text string
		want time.Duration
		ok   bool
	}{
		{"2s", 2 * time.Second, true},
		{"1m30s", 90 * time.Second, true},
		{"250ms", 250 * time.Millisecond, true},
		{"0s", 0, true},
		{"2", 0, false},
		{"", 0, false},
		{"2 s", 0, false},
	}
	for _, tt := range tests {
		var d Duration
		err := d.UnmarshalText([]byte(tt.text))
		if (err == nil) != tt.ok || d.Duration != tt.want {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v, ok=%v", tt.text, d.Duration, err, tt.want, tt.ok)
			continue
		}
		if !tt.ok {
			continue
		}
		out, err := d.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Duration
		if err := back.UnmarshalText(out); err != nil || back != d {
			t.Errorf("round trip of %q via %q = %v, %v", tt.text, out, back, err)
		}
	}
}

func TestPartner(t *testing.T) {
	c := valid()
	p, ok := c.Partner("VALMONT")
	if !ok || p.Name != "Commune de Valmont" {
		t.Fatalf("Partner(VALMONT) = %+v, %v", p, ok)
	}
	p.Name = "renamed"
	if c.Partners[1].Name != "renamed" {
		t.Error("Partner returned a copy, want a pointer into Partners")
	}
	for _, id := range []string{"NOBODY", "valmont", ""} {
		if p, ok := c.Partner(id); ok || p != nil {
			t.Errorf("Partner(%q) = %+v, %v; want nil, false", id, p, ok)
		}
	}
}

func TestLevel(t *testing.T) {
	for _, tt := range []struct {
		level string
		want  slog.Level
	}{
		{"debug", slog.LevelDebug},
		{"info", slog.LevelInfo},
		{"warn", slog.LevelWarn},
		{"error", slog.LevelError},
		{"bogus", slog.LevelInfo},
	} {
		c := Config{LogLevel: tt.level}
		if got := c.Level(); got != tt.want {
			t.Errorf("Level(%q) = %v, want %v", tt.level, got, tt.want)
		}
	}
	if !slices.Equal(DefaultStatusFormats(), []string{"cppstatut", "json"}) {
		t.Errorf("DefaultStatusFormats() = %v", DefaultStatusFormats())
	}
}
