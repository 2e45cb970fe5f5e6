package itest

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
)

// The conversion corpus through the real Terraform: every converted Data Pipeline definition and
// Dataduct pipeline passes `terraform validate` and `terraform plan` with the provider built from
// this tree, and the ones that can run on this machine are applied to a file:// registry and run
// by sluice-runner.

type convTool struct {
	tf, rc string
}

func newConvTool(t *testing.T) *convTool {
	t.Helper()
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" || os.Getenv("TF_ACC") == "" {
		t.Skip("needs TF_ACC=1 and TF_ACC_TERRAFORM_PATH (make test sets both)")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "terraform-provider-sluice"), ".")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	rc := filepath.Join(bin, "terraformrc")
	conf := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"sluice-data/sluice\" = %q\n  }\n  direct {}\n}\n", bin)
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return &convTool{tf: tf, rc: rc}
}

func (c *convTool) terraform(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(c.tf, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+c.rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		main, _ := os.ReadFile(filepath.Join(dir, "main.tf"))
		t.Fatalf("terraform %s: %v\n%s\n--- main.tf\n%s", args[0], err, out, main)
	}
	return string(out)
}

// convertCorpus runs sluice-runner convert and checks its exit code against expect.json.
func convertCorpus(t *testing.T, kind, file, out string, extra ...string) {
	t.Helper()
	args := append([]string{"convert", kind, file, "--out", out}, extra...)
	cmd := exec.Command(runnerBin, args...)
	output, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	if code != 0 && code != 2 {
		t.Fatalf("convert exited %d:\n%s", code, output)
	}
}

type corpusEntry struct {
	Expect string `json:"expect"`
	Local  bool   `json:"local"`
}

func readExpect(t *testing.T, dir string) map[string]corpusEntry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]corpusEntry
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func sortedNames(m map[string]corpusEntry) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestConvertCorpus_TerraformValidatesAndPlansEveryConversion(t *testing.T) {
	tool := newConvTool(t)
	for _, kind := range []string{"datapipeline", "dataduct"} {
		dir := filepath.Join(repoRoot, "runner", "internal", "convert", "testdata", kind)
		for _, name := range sortedNames(readExpect(t, dir)) {
			t.Run(kind+"/"+name, func(t *testing.T) {
				out := t.TempDir()
				ext := ".json"
				var extra []string
				if kind == "dataduct" {
					ext = ".yaml"
				} else if _, err := os.Stat(filepath.Join(dir, name+".values.json")); err == nil {
					extra = []string{"--values", filepath.Join(dir, name+".values.json")}
				}
				convertCorpus(t, kind, filepath.Join(dir, name+ext), out, extra...)
				tool.terraform(t, out, "validate", "-no-color")
				plan := tool.terraform(t, out, "plan", "-no-color", "-input=false", "-var", "registry=file://"+filepath.Join(out, "registry"))
				main, _ := os.ReadFile(filepath.Join(out, "main.tf"))
				if strings.Contains(string(main), `resource "sluice_pipeline"`) && !strings.Contains(plan, "sluice_pipeline.") {
					t.Errorf("the plan does not create the pipeline:\n%s", plan)
				}
			})
		}
	}
}

// TestConvertCorpus_LocalConversionsRunEndToEnd applies the conversions that need nothing but
// this machine (shell, file:// locations, PostgreSQL) and runs their first interval.
func TestConvertCorpus_LocalConversionsRunEndToEnd(t *testing.T) {
	tool := newConvTool(t)
	pgURL := acctest.NewPostgresDatabase(t)
	execSQL(t, pgURL, "CREATE SCHEMA IF NOT EXISTS dev")
	maria := acctest.SharedMariaDB(t)
	if err := maria.Exec(context.Background(), "", "CREATE DATABASE IF NOT EXISTS conv_shop"); err != nil {
		t.Fatal(err)
	}
	shopURL := maria.URL("conv_shop")
	type local struct {
		kind, name, interval string
		prepare              func(t *testing.T, root string) (values map[string]string, vars []string)
		check                func(t *testing.T, root string)
	}
	cases := []local{
		{"datapipeline", "01_shell_daily_local", "2026-11-01T00:00:00Z",
			func(t *testing.T, root string) (map[string]string, []string) {
				return map[string]string{"myOut": root + "/out"}, nil
			},
			func(t *testing.T, root string) {
				wantFile(t, root+"/out/hello-20261101.txt", "day 2026-11-01 hour 0\n")
			}},
		{"datapipeline", "02_copy_prefix_local", "2026-11-01T00:00:00Z",
			func(t *testing.T, root string) (map[string]string, []string) {
				writeFile(t, root+"/raw/2026-11-01/a.log", "alpha\n")
				return map[string]string{"myRoot": "file://" + root}, nil
			},
			func(t *testing.T, root string) { wantFile(t, root+"/archive/2026/11/01/a.log", "alpha\n") }},
		{"datapipeline", "08_sql_postgres_local", "2026-11-01T00:00:00Z",
			func(t *testing.T, root string) (map[string]string, []string) { return nil, nil },
			func(t *testing.T, root string) {
				if got := queryInts(t, pgURL, "SELECT count(*) FROM public.conv_rollup WHERE day = '2026-11-01' AND note = 'converted'"); len(got) != 1 || got[0] != 1 {
					t.Errorf("conv_rollup rows %v, want 1", got)
				}
			}},
		{"datapipeline", "15_shell_staged_local", "2026-11-01T00:00:00Z",
			func(t *testing.T, root string) (map[string]string, []string) {
				writeFile(t, root+"/words/2026-11-01/a.txt", "one\ntwo\n")
				writeFile(t, root+"/words/2026-11-01/b.txt", "three\n")
				return map[string]string{"myRoot": "file://" + root}, []string{"-var", "staging_dir=" + root + "/staging"}
			},
			func(t *testing.T, root string) { wantFile(t, root+"/counts/2026-11-01/count.txt", "3\n") }},
		{"dataduct", "01_load_local_tsv", "2026-11-01T01:00:00Z",
			func(t *testing.T, root string) (map[string]string, []string) {
				return nil, []string{"-var", "s3_base=file://" + root, "-var", "start=2026-11-01T01:00:00Z"}
			},
			func(t *testing.T, root string) {
				if got := queryInts(t, pgURL, "SELECT count(*) FROM dev.test_table"); len(got) != 1 || got[0] != 3 {
					t.Errorf("dev.test_table rows %v, want 3", got)
				}
			}},
		{"datapipeline", "33_mysql_roundtrip_local", "2026-11-01T00:00:00Z",
			func(t *testing.T, root string) (map[string]string, []string) {
				writeFile(t, root+"/feeds/2026-11-01/prices.csv", "A1,9.99,2026-11-01\nB2,,2026-11-01\nC3,1.00,2026-10-31\n")
				return map[string]string{"myRoot": "file://" + root}, nil
			},
			func(t *testing.T, root string) {
				wantGzipFile(t, root+"/dumps/2026-11-01/part-00000.csv.gz", "A1,9.99\nB2,\n")
			}},
		{"dataduct", "18_extract_postgres_local", "2026-11-01T02:00:00Z",
			func(t *testing.T, root string) (map[string]string, []string) {
				return nil, []string{"-var", "s3_base=file://" + root, "-var", "start=2026-11-01T02:00:00Z"}
			},
			func(t *testing.T, root string) {
				if got := queryInts(t, pgURL, "SELECT count(*) FROM dev.test_copy"); len(got) != 1 || got[0] != 3 {
					t.Errorf("dev.test_copy rows %v, want the 3 of dev.test_table", got)
				}
			}},
		{"dataduct", "07_transform_script_local", "2026-11-01T00:00:00Z",
			func(t *testing.T, root string) (map[string]string, []string) {
				return nil, []string{"-var", "s3_base=file://" + root, "-var", "start=2026-11-01T00:00:00Z", "-var", "staging_dir=" + root + "/staging"}
			},
			func(t *testing.T, root string) {
				wantFile(t, root+"/conv/shout/2026-11-01/test_table.tsv", "1\tFIRST\n2\tSECOND\n3\tTHIRD\n")
			}},
	}
	for _, lc := range cases {
		t.Run(lc.kind+"/"+lc.name, func(t *testing.T) {
			root := t.TempDir()
			out := filepath.Join(root, "tf")
			dir := filepath.Join(repoRoot, "runner", "internal", "convert", "testdata", lc.kind)
			values, vars := lc.prepare(t, root)
			var extra []string
			ext := ".yaml"
			if lc.kind == "datapipeline" {
				ext = ".json"
				vf := filepath.Join(root, "values.json")
				data, _ := json.Marshal(map[string]any{"values": values})
				writeFile(t, vf, string(data))
				extra = []string{"--values", vf}
			}
			convertCorpus(t, lc.kind, filepath.Join(dir, lc.name+ext), out, append(extra, "--name", "conv")...)
			reg := "file://" + filepath.Join(root, "registry")
			tool.terraform(t, out, append([]string{"apply", "-no-color", "-input=false", "-auto-approve", "-var", "registry=" + reg}, vars...)...)
			cmd := exec.Command(runnerBin, "run", "conv", "--interval", lc.interval, "--registry", reg)
			cmd.Env = append(os.Environ(), "SLUICE_DATABASE=sqlite://"+filepath.Join(root, "state.db"),
				"SLUICE_CONN_LOCAL_PG="+pgURL, "SLUICE_CONN_REDSHIFT="+pgURL, "SLUICE_CONN_LOCALPG="+pgURL, "SLUICE_CONN_SHOP_DB="+shopURL)
			if output, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sluice-runner run: %v\n%s", err, output)
			}
			lc.check(t, root)
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func wantGzipFile(t *testing.T, path, want string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("the run did not write %s: %v", path, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s = %q, want %q", path, got, want)
	}
}

func wantFile(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the run did not write %s: %v", path, err)
	}
	if string(got) != want {
		t.Errorf("%s = %q, want %q", path, got, want)
	}
}
