package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const corpus = "../convert/testdata"

func TestConvert_ExitsZeroWhenEverythingConvertsAndTwoWhenSomethingIsLeftOut(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"datapipeline", corpus + "/datapipeline/03_redshift_truncate_csv.json"}, 0, "connection warehouse: set SLUICE_CONN_WAREHOUSE"},
		{[]string{"datapipeline", corpus + "/datapipeline/26_parent_inheritance_values.json", "--values", corpus + "/datapipeline/26_parent_inheritance_values.values.json"}, 0, "0 left out"},
		{[]string{"datapipeline", corpus + "/datapipeline/27_untranslatable_expressions.json"}, 2, "3 expressions not translated"},
		{[]string{"dataduct", corpus + "/dataduct/10_upsert.yaml"}, 0, "pipeline upsert_orders"},
		{[]string{"dataduct", corpus + "/dataduct/15_pipeline_dependencies.yaml"}, 2, "1 left out"},
	} {
		out := t.TempDir()
		code, stdout, stderr := run(t, nil, append(append([]string{"convert"}, c.args...), "--out", out)...)
		if code != c.code || !strings.Contains(stdout, c.out) {
			t.Errorf("%v: exit %d, want %d; stdout %q (want %q); stderr %q", c.args, code, c.code, stdout, c.out, stderr)
		}
		for _, f := range []string{"main.tf", "variables.tf", "CONVERSION.md"} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Errorf("%v: %s not written: %v", c.args, f, err)
			}
		}
		if c.code == 2 && !strings.Contains(stderr, "CONVERSION.md") {
			t.Errorf("%v: stderr %q does not point at the report", c.args, stderr)
		}
	}
}

func TestConvert_BadInputsSayWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(notJSON, []byte(`{"objects": [{"id": "A", "type": "ShellCommandActivity", "dependsOn": {"ref": "Nope"}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"datapipeline", filepath.Join(dir, "missing.json"), "--out", dir}, 2, "reading the definition"},
		{[]string{"datapipeline", notJSON, "--out", dir}, 1, `refers to "Nope", which is not in the definition`},
		{[]string{"datapipeline", corpus + "/datapipeline/01_shell_daily_local.json", "--values", notJSON, "--out", dir}, 1, "not a parameter values file"},
		{[]string{"datapipeline", corpus + "/datapipeline/01_shell_daily_local.json", "--out", filepath.Join(blocker, "sub")}, 2, "creating the output directory"},
		{[]string{"dataduct", notJSON, "--out", dir}, 1, "not a Dataduct pipeline"},
		{[]string{"datapipeline", corpus + "/datapipeline/01_shell_daily_local.json"}, 2, "required flag"},
	} {
		code, _, stderr := run(t, nil, append([]string{"convert"}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.err) {
			t.Errorf("%v: exit %d, want %d; stderr %q, want %q", c.args, code, c.code, stderr, c.err)
		}
	}
}
