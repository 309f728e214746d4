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
		LogFormat:       "json",
		LogLevel:        "debug",
		HubID:           "HUB01",
		Partners: []Partner{
			{
				ID:            "FOURN01",
				Name:          "Billing system of Fournitures Valmont",
				SIRETs:        []string{"73282932000074", "73282932000082"},
				Receives:      []string{},
				StatusFormats: []string{"cppstatut"},
			},
			{
				ID:            "VALMONT",
				Name:          "Accounts payable of the Commune de Valmont-sur-Loire",
				SIRETs:        []string{},
				Receives:      []string{"21000001000012", "22000002000010"},
				StatusFormats: []string{"json", "cppstatut"},
			},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(example.toml) =\n%+v\nwant\n%+v", got, want)
	}
	if got.Level() != slog.LevelDebug {
		t.Errorf("Level() = %v, want DEBUG", got.Level())
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
		{"log_format", d.LogFormat, "text"},
		{"log_level", d.LogLevel, "info"},
		{"hub_id", d.HubID, "FLOWGATE"},
		{"level", d.Level(), slog.LevelInfo},
	} {
		if c.got != c.want {
			t.Errorf("DefaultConfig %s = %v, want %v", c.name, c.got, c.want)
		}
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

// valid returns a configuration that passes Validate, for tests to break
// one field at a time.
func valid() Config {
	c := DefaultConfig()
	c.Root = "/srv/flowgate"
	c.Directory = "/srv/directory"
	c.Database = "/srv/flowgate/flowgate.db"
	c.Partners = []Partner{
		{ID: "FOURN01", Name: "Fournitures Valmont", SIRETs: []string{"73282932000074"}, StatusFormats: []string{"cppstatut", "json"}},
		{ID: "VALMONT", Name: "Commune de Valmont", Receives: []string{"21000001000012"}, StatusFormats: []string{"json"}},
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
		{"log_format", func(c *Config) { c.LogFormat = "xml" }, []string{`log_format "xml": must be text or json`}},
		{"log_level", func(c *Config) { c.LogLevel = "verbose" }, []string{`log_level "verbose": must be debug, info, warn or error`}},
		{"log_level upper case", func(c *Config) { c.LogLevel = "INFO" }, []string{`log_level "INFO"`}},
		{"hub_id lower case", func(c *Config) { c.HubID = "hub" }, []string{`hub_id "hub": must be 3-8 characters A-Z 0-9`}},
		{"hub_id too long", func(c *Config) { c.HubID = "FLOWGATE9" }, []string{`hub_id "FLOWGATE9": must be 3-8`}},
		{"hub_id empty", func(c *Config) { c.HubID = "" }, []string{`hub_id "": must be 3-8`}},
		{"hub_id is a partner", func(c *Config) { c.HubID = "VALMONT" }, []string{`hub_id "VALMONT": must differ from partners[1].id`}},
		{"no partners", func(c *Config) { c.Partners = nil }, []string{"partners: at least one partner is required"}},
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
		{"status_formats empty", func(c *Config) { c.Partners[1].StatusFormats = nil }, []string{"partners[1].status_formats: at least one of cppstatut, json is required"}},
		{"status_formats unknown", func(c *Config) { c.Partners[0].StatusFormats = []string{"json", "pdf"} }, []string{`partners[0].status_formats[1] "pdf": must be cppstatut or json`}},
		{"status_formats duplicate", func(c *Config) { c.Partners[0].StatusFormats = []string{"json", "cppstatut", "json"} }, []string{`partners[0].status_formats[2] "json": listed twice`}},
		{
			"several problems at once",
			func(c *Config) {
				c.Root = ""
				c.Rescan = Duration{0}
				c.LogFormat = "xml"
				c.Partners[0].ID = "bad id"
				c.Partners[1].Name = ""
				c.Partners[1].StatusFormats = []string{"pdf"}
			},
			[]string{
				"root: required",
				`rescan "0s"`,
				`log_format "xml"`,
				`partners[0].id "bad id"`,
				"partners[1].name: required",
				`partners[1].status_formats[0] "pdf"`,
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
[[partners]]
id = "FOURN01"
name = ""
sirets = ["123"]
status_formats = ["xml"]
[[partners]]
id = "fourn 1"
name = "Second"
receives = ["21000001000012", "21000001000012"]
[[partners]]
id = "THIRD"
name = "Third"
receives = ["21000001000012"]
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
		`hub_id "FOURN01": must differ from partners[0].id`,
		"partners[0].name: required",
		`partners[0].sirets[0] "123": must be 14 digits`,
		`partners[0].status_formats[0] "xml"`,
		`partners[1].id "fourn 1": must be 3-8 characters A-Z 0-9`,
		`partners[2].receives[0] "21000001000012": already received by partners[1] (fourn 1)`,
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
		{"bad toml", `root = `, []string{"line 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.line+"\n"+strings.Replace(minimal, "root =", "#", 1))
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
