package flows

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testKeyLine is an ed25519 public key in authorized_keys form, without
// options.
const testKeyLine = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKnVeI1Ej6kTXAQfFMoWL6sY9ETdwPXKjfGmxdHnHjxV test"

// TestParseAuthorizedKeysOptions: the options OpenSSH defines are
// honoured, accepted as no-ops, or refused naming file, line and option.
func TestParseAuthorizedKeysOptions(t *testing.T) {
	cases := []struct {
		options string
		err     string // "" when accepted
		check   func(t *testing.T, k AuthorizedKey)
	}{
		{options: "", check: func(t *testing.T, k AuthorizedKey) {
			if k.From != nil || !k.Expiry.IsZero() {
				t.Errorf("no options, got from %q expiry %v", k.From, k.Expiry)
			}
		}},
		{options: "restrict"},
		{options: "no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc"},
		{options: "RESTRICT,No-Pty"},
		{options: `from="10.0.0.0/8,!10.1.0.0/16,192.168.1.*,2001:db8::/32"`, check: func(t *testing.T, k AuthorizedKey) {
			if strings.Join(k.From, ",") != "10.0.0.0/8,!10.1.0.0/16,192.168.1.*,2001:db8::/32" {
				t.Errorf("from %q", k.From)
			}
		}},
		{options: `restrict,FROM="192.0.2.7"`},
		{options: `expiry-time="20300102"`, check: func(t *testing.T, k AuthorizedKey) {
			if want := time.Date(2030, 1, 2, 0, 0, 0, 0, time.Local); !k.Expiry.Equal(want) {
				t.Errorf("expiry %v, want %v (local time)", k.Expiry, want)
			}
		}},
		{options: `expiry-time="203001021530Z"`, check: func(t *testing.T, k AuthorizedKey) {
			if want := time.Date(2030, 1, 2, 15, 30, 0, 0, time.UTC); !k.Expiry.Equal(want) {
				t.Errorf("expiry %v, want %v", k.Expiry, want)
			}
		}},
		{options: `expiry-time="20300102153045",expiry-time="20290101"`, check: func(t *testing.T, k AuthorizedKey) {
			if want := time.Date(2029, 1, 1, 0, 0, 0, 0, time.Local); !k.Expiry.Equal(want) {
				t.Errorf("expiry %v, want the earliest %v", k.Expiry, want)
			}
		}},
		{options: `command="/bin/true"`, err: "option command is not supported"},
		{options: `restrict,permitopen="localhost:80"`, err: "option permitopen is not supported"},
		{options: `environment="A=b"`, err: "option environment is not supported"},
		{options: `tunnel="1"`, err: "option tunnel is not supported"},
		{options: "cert-authority", err: "option cert-authority is not supported"},
		{options: `principals="a"`, err: "option principals is not supported"},
		{options: `permitlisten="8080"`, err: "option permitlisten is not supported"},
		{options: "restrict,pty", err: "option pty is not supported"},
		{options: "agent-forwarding", err: "option agent-forwarding is not supported"},
		{options: "no-touch-required", err: "option no-touch-required is not supported"},
		{options: "restrict=yes", err: "option restrict is not supported"},
		{options: "from", err: "option from needs a value"},
		{options: "from=10.0.0.1", err: "not in double quotes"},
		{options: `from="10.0.0.1",from="10.0.0.2"`, err: "from given twice"},
		{options: `from="10.1.2.3/8"`, err: "address has bits set past the /8 mask (10.0.0.0/8?)"},
		{options: `from="10.0.0.0/33"`, err: "not a CIDR block"},
		{options: `from="10.0.0.1,,10.0.0.2"`, err: "empty pattern"},
		{options: `from="!"`, err: "empty pattern"},
		{options: `from="*.example.com"`, err: "is a host name"},
		{options: `from="10.0.0.1, 10.0.0.2"`, err: "holds a space"},
		{options: `expiry-time="2030"`, err: "want YYYYMMDD[HHMM[SS]]"},
		{options: `expiry-time="20301302"`, err: "not a valid date"},
	}
	for _, c := range cases {
		line := testKeyLine
		if c.options != "" {
			line = c.options + " " + testKeyLine
		}
		keys, err := ParseAuthorizedKeys("keys.pub", []byte("# partner keys\n\n"+line+"\n"))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), "keys.pub:3") || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want keys.pub:3 and %q", c.options, err, c.err)
			}
			continue
		}
		if err != nil || len(keys) != 1 {
			t.Errorf("%s: %d keys, %v", c.options, len(keys), err)
			continue
		}
		if keys[0].Where() != "keys.pub:3" {
			t.Errorf("%s: at %s", c.options, keys[0].Where())
		}
		if c.check != nil {
			c.check(t, keys[0])
		}
	}
}

// TestLoadAuthorizedKeysReportsAll: every bad line of a file is reported
// at once, each with its line; an empty file is an error.
func TestLoadAuthorizedKeysReportsAll(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys")
	os.WriteFile(path, []byte(testKeyLine+"\ncommand=\"x\" "+testKeyLine+"\nnot a key\n"), 0o644)
	_, err := LoadAuthorizedKeys(path)
	if err == nil || !strings.Contains(err.Error(), path+":2: option command") || !strings.Contains(err.Error(), path+":3: not a key") {
		t.Errorf("error %v", err)
	}
	os.WriteFile(path, []byte("# none yet\n"), 0o644)
	if _, err := LoadAuthorizedKeys(path); err == nil || !strings.Contains(err.Error(), "no key") {
		t.Errorf("empty file: %v", err)
	}
}

// TestMatchFrom: OpenSSH's from= semantics with UseDNS no: CIDR blocks,
// addresses, wildcards on the address's text, and a matching negation
// refusing whatever its place in the list.
func TestMatchFrom(t *testing.T) {
	cases := []struct {
		list string
		addr string
		want bool
	}{
		{"10.0.0.0/8", "10.2.3.4", true},
		{"10.0.0.0/8", "11.2.3.4", false},
		{"192.0.2.7", "192.0.2.7", true},
		{"192.0.2.7", "192.0.2.70", false},
		{"192.0.2.*", "192.0.2.70", true},
		{"192.0.?.7", "192.0.2.7", true},
		{"192.0.?.7", "192.0.22.7", false},
		{"*", "203.0.113.9", true},
		{"10.0.0.0/8,!10.1.0.0/16", "10.1.2.3", false},
		{"!10.1.0.0/16,10.0.0.0/8", "10.1.2.3", false},
		{"!10.1.0.0/16,10.0.0.0/8", "10.2.2.3", true},
		{"!10.1.*", "10.2.0.1", false}, // only negations: nothing positive matched
		{"10.*,!10.0.0.1", "10.0.0.1", false},
		{"2001:db8::/32", "2001:db8::1", true},
		{"2001:DB8::*", "2001:db8::1", true},
		{"10.0.0.0/8", "::ffff:10.0.0.1", true}, // an IPv4 client on a dual-stack socket
	}
	for _, c := range cases {
		pats, err := parseFrom(c.list)
		if err != nil {
			t.Fatalf("%s: %v", c.list, err)
		}
		if got := MatchFrom(pats, netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("from=%q, %s: %v, want %v", c.list, c.addr, got, c.want)
		}
	}
}

// TestAllowsExpiry: a key is refused past its expiry-time, naming it.
func TestAllowsExpiry(t *testing.T) {
	k := AuthorizedKey{File: "k", Line: 1, Expiry: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := netip.MustParseAddr("192.0.2.1")
	if err := k.Allows(a, k.Expiry.Add(-time.Second)); err != nil {
		t.Errorf("before expiry: %v", err)
	}
	if err := k.Allows(a, k.Expiry.Add(time.Second)); err == nil || !strings.Contains(err.Error(), "expired at 2030-01-01T00:00:00Z") {
		t.Errorf("after expiry: %v", err)
	}
}

// TestKeyConflicts: a key in two partners' files is reported naming both
// partners and where; twice in one partner's file it is not.
func TestKeyConflicts(t *testing.T) {
	k, err := ParseAuthorizedKeys("a.pub", []byte(testKeyLine+"\n"+`from="10.0.0.0/8" `+testKeyLine+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ParseAuthorizedKeys("b.pub", []byte("\n"+testKeyLine+"\n"))
	if err := KeyConflicts([]PartnerKeys{{"A", k}, {"C", nil}}); err != nil {
		t.Errorf("one partner: %v", err)
	}
	err = KeyConflicts([]PartnerKeys{{"A", k}, {"C", nil}, {"B", b}})
	if err == nil || !strings.Contains(err.Error(), "authorized for two partners: A (a.pub:1) and B (b.pub:2)") {
		t.Errorf("two partners: %v", err)
	}
}
