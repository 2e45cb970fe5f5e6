package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

// replicationRegistry publishes a statements replication over three replicas and returns the
// registry directory and the environment naming the three replica databases.
func replicationRegistry(t *testing.T, fill ...[]string) (string, map[string]string) {
	t.Helper()
	ctx := context.Background()
	env := map[string]string{}
	r := &definition.Replication{
		Format: definition.FormatReplication, Name: "warehouse",
		StreamARN:     "arn:aws:kinesis:us-east-1:123456789012:stream/changes",
		Replicas:      map[string]definition.Replica{},
		Records:       definition.Records{Format: definition.RecordsStatements},
		Batch:         definition.Batch{MaxRecords: 500, MaxBytes: 1 << 20, MaxLatency: "1s"},
		StartPosition: definition.StartPosition{Type: definition.StartTrimHorizon},
		Poison:        definition.Poison{Policy: definition.PoisonStop},
		PollInterval:  "1s",
	}
	for i, name := range []string{"use1_a", "use1_b", "euw1"} {
		url := acctest.NewPostgresDatabase(t)
		ex, err := redshift.OpenPgx(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		stmts := []string{`CREATE SCHEMA app`, `CREATE TABLE app.t (id int, v text)`, `INSERT INTO app.t SELECT g, md5(g::text) FROM generate_series(1, 500) g`}
		if i < len(fill) {
			stmts = append(stmts, fill[i]...)
		}
		if err := ex.ExecTx(ctx, stmts...); err != nil {
			t.Fatal(err)
		}
		ex.Close()
		region := "us-east-1"
		if name == "euw1" {
			region = "eu-west-1"
		}
		r.Replicas[name] = definition.Replica{Connection: name, Region: region}
		env["SLUICE_CONN_"+strings.ToUpper(name)] = url
	}
	doc, err := definition.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"replications/warehouse.json": doc})
	env["SLUICE_REGISTRY"] = "file://" + dir
	return dir, env
}

func TestReplicasVerify_IdenticalReplicasExitZero(t *testing.T) {
	_, env := replicationRegistry(t)
	code, out, errOut := run(t, env, "replicas", "verify", "warehouse")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "replication warehouse: 3 replicas (euw1, use1_a, use1_b), 1 tables: identical") ||
		!strings.Contains(out, "app.t  500/500/500  equal") {
		t.Fatalf("output:\n%s", out)
	}
}

func TestReplicasVerify_DifferencesExitOneAndAreNamed(t *testing.T) {
	_, env := replicationRegistry(t, nil, []string{`DELETE FROM app.t WHERE id = 3`}, []string{`UPDATE app.t SET v = '<script>' WHERE id = 4`})
	code, out, errOut := run(t, env, "replicas", "verify", "warehouse", "--output", "json")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	var res struct {
		Equal  bool `json:"equal"`
		Tables []struct {
			Table       string   `json:"table"`
			Differences []string `json:"differences"`
		} `json:"tables"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Equal || len(res.Tables) != 1 || res.Tables[0].Differences[0] != "row counts differ: euw1 500, use1_a 500, use1_b 499" {
		t.Fatalf("result: %+v", res)
	}
}

func TestReplicasVerify_BadInputs(t *testing.T) {
	_, env := replicationRegistry(t)
	for _, tc := range []struct {
		args []string
		env  func(map[string]string)
		code int
		frag string
	}{
		{[]string{"replicas", "verify", ".."}, nil, 2, "replication name"},
		{[]string{"replicas", "verify", "nope"}, nil, 2, `replication "nope" is not in registry`},
		{[]string{"replicas", "verify", "warehouse"}, func(e map[string]string) { delete(e, "SLUICE_CONN_EUW1") }, 2, "replica euw1"},
		{[]string{"replicas", "verify", "warehouse"}, func(e map[string]string) { e["SLUICE_CONN_USE1_B"] = "postgres://nobody@127.0.0.1:1/x" }, 2, "replica use1_b"},
	} {
		e := map[string]string{}
		for k, v := range env {
			e[k] = v
		}
		if tc.env != nil {
			tc.env(e)
		}
		code, out, errOut := run(t, e, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.frag) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q\n%s", tc.args, code, errOut, tc.code, tc.frag, out)
		}
	}
}

func TestValidate_ChecksReplications(t *testing.T) {
	dir, env := replicationRegistry(t)
	bad := &definition.Replication{Format: definition.FormatReplication, Name: "bad", StreamARN: "stream/changes",
		Records: definition.Records{Format: definition.RecordsRows}, PollInterval: "1s"}
	doc, err := definition.Encode(bad)
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string][]byte{"replications/bad.json": doc})
	code, out, errOut := run(t, env, "validate")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, frag := range []string{
		"error replications/bad.json:\n",
		`  stream_arn: "stream/changes" is not a Kinesis stream ARN`,
		"  replicas: at least one replica is required",
		"\nok replications/warehouse.json sha256:",
	} {
		if !strings.Contains(out, frag) {
			t.Errorf("validate output lacks %q:\n%s", frag, out)
		}
	}
}
