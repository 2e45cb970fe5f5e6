package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPrecedenceFileThenEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runner.yaml")
	if err := os.WriteFile(path, []byte(`
registry: file:///srv/registry
database: postgres://runner:filesecret@db:5432/sluice
workers: 4
tick: 5s
connections:
  Warehouse: postgres://u:connsecret@wh:5432/dev
  replica: redshift://r:5439/dev?iam=true&cluster_identifier=c&db_user=u
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	if err := c.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if err := c.LoadEnv([]string{"SLUICE_WORKERS=7", "SLUICE_CONN_WAREHOUSE=postgres://u:envsecret@wh2/dev", "SLUICE_TICK=250ms", "HOME=/root"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Registry != "file:///srv/registry" || c.Workers != 7 || time.Duration(c.Tick) != 250*time.Millisecond {
		t.Errorf("config: %+v", c)
	}
	if got := c.Connections["warehouse"]; got != "postgres://u:envsecret@wh2/dev" {
		t.Errorf("warehouse = %q: the environment overrides the file", got)
	}
	if c.EMRMode != EMRModeAWS || c.Listen != DefaultListen {
		t.Errorf("defaults lost: %+v", c)
	}
	red := strings.ToLower(strings.Join([]string{c.Redacted()["database"].(string)}, ""))
	for _, v := range c.Redacted()["connections"].(map[string]string) {
		red += v
	}
	for _, secret := range []string{"filesecret", "connsecret", "envsecret"} {
		if strings.Contains(red, secret) {
			t.Errorf("redacted config shows %s: %s", secret, red)
		}
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		file, env, want string
	}{
		"unknown key":       {file: "registri: file:///x\n", want: "field registri not found"},
		"bad duration":      {file: "tick: soon\n", want: `"soon" is not a duration`},
		"bad workers env":   {env: "SLUICE_WORKERS=many", want: `SLUICE_WORKERS: "many" is not a whole number`},
		"bad emr mode":      {env: "SLUICE_EMR_MODE=cloud", want: `emr mode "cloud": use aws or local`},
		"bad listen":        {env: "SLUICE_LISTEN=8080", want: `listen "8080": want host:port`},
		"bad env duration":  {env: "SLUICE_RESCUE_AFTER=1x", want: `SLUICE_RESCUE_AFTER="1x" is not a duration`},
		"nameless conn":     {env: "SLUICE_CONN_=postgres://x", want: "SLUICE_CONN_ names no connection"},
		"unknown endpoint":  {file: "endpoints:\n  s4: http://127.0.0.1:1\n", want: "endpoints.s4: unknown service"},
		"zero rescue after": {file: "rescue_after: 1ms\n", want: "rescue after 1ms: use at least 1s"},
	} {
		t.Run(name, func(t *testing.T) {
			c := Default()
			var err error
			if tc.file != "" {
				path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
				if werr := os.WriteFile(path, []byte(tc.file), 0o600); werr != nil {
					t.Fatal(werr)
				}
				err = c.LoadFile(path)
			}
			if err == nil && tc.env != "" {
				err = c.LoadEnv([]string{tc.env})
			}
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestEmptyFileKeepsDefaults(t *testing.T) {
	if c := loadValid(t, ""); !reflect.DeepEqual(c, Default()) {
		t.Errorf("an empty file changed the defaults: %+v", c)
	}
}

// loadValid loads a config file holding body over the defaults and validates it.
func loadValid(t *testing.T, body string) Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "runner.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	if err := c.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEndpoints_AcceptSecretsManagerForSecretConnections(t *testing.T) {
	c := loadValid(t, "endpoints:\n  secretsmanager: http://127.0.0.1:1234\n")
	if got := c.Endpoints["secretsmanager"]; got != "http://127.0.0.1:1234" {
		t.Fatalf("endpoints.secretsmanager = %q", got)
	}
	c.Endpoints["secretsmanager"] = "127.0.0.1:1234"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "endpoints.secretsmanager: endpoint") {
		t.Fatalf("a scheme-less secretsmanager endpoint: err = %v", err)
	}
	c.Endpoints = map[string]string{"secrets_manager": "http://127.0.0.1:1234"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "unknown service; use emr, kinesis, redshift, redshift_data, s3, secretsmanager,") {
		t.Fatalf("a misspelt service: err = %v", err)
	}
}

func TestProcessGraceAndEMRPollInterval_DefaultsFileAndEnv(t *testing.T) {
	c := Default()
	if time.Duration(c.ProcessGrace) != 30*time.Second || time.Duration(c.EMRPollInterval) != 30*time.Second {
		t.Errorf("defaults: process grace %s, emr poll interval %s; want 30s and 30s", time.Duration(c.ProcessGrace), time.Duration(c.EMRPollInterval))
	}
	path := filepath.Join(t.TempDir(), "runner.yaml")
	if err := os.WriteFile(path, []byte("process_grace: 1m\nemr_poll_interval: 10s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.ProcessGrace) != time.Minute || time.Duration(c.EMRPollInterval) != 10*time.Second {
		t.Errorf("from the file: %s, %s; want 1m0s and 10s", time.Duration(c.ProcessGrace), time.Duration(c.EMRPollInterval))
	}
	if err := c.LoadEnv([]string{EnvProcessGrace + "=2s", EnvEMRPoll + "=50ms"}); err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.ProcessGrace) != 2*time.Second || time.Duration(c.EMRPollInterval) != 50*time.Millisecond {
		t.Errorf("from the environment: %s, %s; want 2s and 50ms", time.Duration(c.ProcessGrace), time.Duration(c.EMRPollInterval))
	}
	c.ProcessGrace, c.EMRPollInterval = Duration(-time.Second), Duration(time.Millisecond)
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "process grace -1s") || !strings.Contains(err.Error(), "emr poll interval 1ms") {
		t.Errorf("Validate: %v; want both settings named", err)
	}
}
