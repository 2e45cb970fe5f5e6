package conn_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/conn"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/redact"
)

// The resolver tells the runner's registry every secret it learns, so that the runner scrubs
// them from all it writes (issue 11, item 2): a URI's password at once, even when the URI does
// not parse; a Secrets Manager value and its password when they are fetched.
func TestNewResolver_RegistersURIPasswordsAtOnceEvenUnparseable(t *testing.T) {
	secrets := redact.New()
	_, err := conn.NewResolver(map[string]string{
		"good": "postgres://u:g00d%2Fpass@127.0.0.1:5432/db",
		"bad":  "postgres://u:b@d/pa%zzss@127.0.0.1:5432/db", // '/' and a bad escape: url.Parse refuses it
	}, conn.Options{Secrets: secrets})
	if err == nil {
		t.Fatal("the unparseable URI was accepted")
	}
	if strings.Contains(secrets.Scrub(err.Error()), "pa%zz") {
		t.Errorf("the error about the bad URI still shows its password once scrubbed: %v", err)
	}
	for _, leak := range []string{"g00d%2Fpass", "g00d/pass", "b@d/pa%zzss", "pa%zzss@127"} {
		if got := secrets.Scrub("[" + leak + "]"); strings.Contains(got, leak) {
			t.Errorf("%q is not registered: %s", leak, got)
		}
	}
	// Not the whole of a URI without a password: its log lines must stay readable.
	plain := "postgres://u@127.0.0.1:5432/db"
	if _, err := conn.NewResolver(map[string]string{"plain": plain}, conn.Options{Secrets: secrets}); err != nil {
		t.Fatal(err)
	}
	if got := secrets.Scrub(plain); got != plain {
		t.Errorf("a URI without a password is scrubbed: %q", got)
	}
}

func TestGet_RegistersTheFetchedSecretValueAndItsPassword(t *testing.T) {
	const pw = `Sm-p@ss/w#rd?tail`
	fake := startFakeSecrets(t)
	value := `{"engine":"postgres","host":"127.0.0.1","port":1,"username":"nobody","password":"Sm-p@ss/w#rd?tail","dbname":"db","sslmode":"disable"}`
	fake.setString(secretARN, value)
	secrets := redact.New()
	r, err := conn.NewResolver(map[string]string{"warehouse": secretARN}, conn.Options{AWS: fake.aws(), Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	if secrets.Scrub(pw) != pw {
		t.Fatal("the secret's password is known before the secret was fetched")
	}
	// Nothing listens on port 1: the open fails at once, after the fetch this test is about.
	if _, err := r.Get(context.Background(), "warehouse"); err == nil {
		t.Fatal("opening a database on port 1 succeeded")
	}
	if fake.callsFor(secretARN) != 1 {
		t.Fatalf("GetSecretValue called %d times, want 1", fake.callsFor(secretARN))
	}
	for _, leak := range []string{pw, value, "w#rd?tail", "rd?tail"} {
		if got := secrets.Scrub(leak); strings.Contains(got, leak) {
			t.Errorf("%q is not registered after the fetch: %s", leak, got)
		}
	}
	// The ordinary words of the value stay readable.
	if got := secrets.Scrub("engine postgres host 127.0.0.1"); got != "engine postgres host 127.0.0.1" {
		t.Errorf("pieces of the secret's JSON are scrubbed: %q", got)
	}
}

// url.Parse quotes what it stumbled on — `invalid port ":Q7" after host`, `invalid URL escape
// "%zZ"` — which for a password with an unencoded delimiter is a piece of it, too short for
// scrubbing by value. The resolver says what is wrong in its own words.
func TestNewResolver_ErrorsOfAnUnencodedPasswordQuoteNoPieceOfIt(t *testing.T) {
	for _, uri := range []string{
		"postgres://u:Q7/Zk9@127.0.0.1:5432/db",
		"postgres://u:Q7#Zk9@127.0.0.1:5432/db",
		"postgres://u:Q7?Zk9@127.0.0.1:5432/db",
		"postgres://u:Q7%zZk9@127.0.0.1:5432/db",
		"postgres://u:Q7 Zk9@127.0.0.1:5432/db",
	} {
		_, err := conn.NewResolver(map[string]string{"warehouse": uri}, conn.Options{})
		if err == nil {
			t.Errorf("%s was accepted", uri)
			continue
		}
		for _, piece := range []string{"Q7", "Zk9", "zZ"} {
			if strings.Contains(err.Error(), piece) {
				t.Errorf("the error about %s quotes %q: %v", uri, piece, err)
			}
		}
	}
}
