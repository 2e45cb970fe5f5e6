package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/cli"
)

// pipeline is a valid pipeline: extract (shell) -> transform (emr_step on template) -> publish
// (shell).
func pipeline(name, template string) *definition.Pipeline {
	return &definition.Pipeline{
		Format:  definition.FormatPipeline,
		Name:    name,
		Enabled: true,
		Schedule: definition.Schedule{
			Every: "1d", Start: "2024-01-01T00:00:00Z", MaxActiveRuns: 1,
		},
		Activities: map[string]*definition.Activity{
			"extract": {Shell: &definition.ShellActivity{Command: []string{"true"}}},
			"transform": {DependsOn: []string{"extract"}, EMRStep: &definition.EMRStepActivity{
				Template: template,
				Steps:    []definition.EMRStep{{Name: "count", Command: []string{"echo", "{{ .Start }}"}}},
			}},
			"publish": {DependsOn: []string{"transform"}, Shell: &definition.ShellActivity{Command: []string{"true"}}},
		},
	}
}

func emrTemplate(name string) *definition.EMRTemplate {
	return &definition.EMRTemplate{
		Format: definition.FormatEMRTemplate, Name: name, ReleaseLabel: "emr-7.2.0",
		InstanceGroups: definition.InstanceGroups{Master: definition.InstanceGroup{InstanceType: "m5.xlarge", Count: 1, Market: definition.MarketOnDemand}},
		ServiceRole:    "EMR_DefaultRole", JobFlowRole: "EMR_EC2_DefaultRole", IdleTimeout: "1h",
	}
}

// encode publishes a document's bytes and returns them with its version.
func encode[D *definition.Pipeline | *definition.EMRTemplate](t *testing.T, doc D) (data []byte, version string) {
	t.Helper()
	var err error
	switch d := any(doc).(type) {
	case *definition.Pipeline:
		data, err = definition.Encode(d)
		version = d.Version
	case *definition.EMRTemplate:
		data, err = definition.Encode(d)
		version = d.Version
	}
	if err != nil {
		t.Fatal(err)
	}
	return data, version
}

// writeFiles lays out files (key -> bytes) under dir.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for key, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// run runs sluice-runner in-process with env as its whole environment.
func run(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = cli.Execute(context.Background(), args, cli.IO{
		Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return env[k] },
		Environ: func() []string {
			var kv []string
			for k, v := range env {
				kv = append(kv, k+"="+v)
			}
			return kv
		},
	})
	return code, out.String(), errOut.String()
}

// validRegistry writes a registry with one template and two pipelines using it, and returns its
// directory and the versions by key.
func validRegistry(t *testing.T) (dir string, versions map[string]string) {
	t.Helper()
	dir = t.TempDir()
	versions = map[string]string{}
	files := map[string][]byte{}
	for key, doc := range map[string]any{
		"pipelines/clicks.json":    pipeline("clicks", "small"),
		"pipelines/views.json":     pipeline("views", "small"),
		"emr-templates/small.json": emrTemplate("small"),
	} {
		var data []byte
		var v string
		switch d := doc.(type) {
		case *definition.Pipeline:
			data, v = encode(t, d)
		case *definition.EMRTemplate:
			data, v = encode(t, d)
		}
		files[key], versions[key] = data, v
	}
	writeFiles(t, dir, files)
	return dir, versions
}

func TestValidate_AllValidRegistryPrintsOneOKLinePerDocumentAndExitsZero(t *testing.T) {
	dir, v := validRegistry(t)
	code, out, errOut := run(t, nil, "validate", "--registry", "file://"+dir)
	if code != 0 {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	want := fmt.Sprintf("ok pipelines/clicks.json %s\nok pipelines/views.json %s\nok emr-templates/small.json %s\n",
		v["pipelines/clicks.json"], v["pipelines/views.json"], v["emr-templates/small.json"])
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
	if !strings.HasPrefix(v["pipelines/clicks.json"], "sha256:") {
		t.Errorf("version %q", v["pipelines/clicks.json"])
	}
}

func TestValidate_RegistryComesFromSLUICE_REGISTRYWhenNoFlagOrPath(t *testing.T) {
	dir, _ := validRegistry(t)
	code, out, errOut := run(t, map[string]string{cli.EnvRegistry: "file://" + dir}, "validate")
	if code != 0 || strings.Count(out, "ok ") != 3 {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func TestValidate_InvalidAndUnknownFormatDocumentsAreBothReportedAndExitOne(t *testing.T) {
	dir, v := validRegistry(t)
	bad := pipeline("bad", "small")
	bad.Schedule.Every = ""
	bad.Schedule.Cron = "61 * * * *"
	badData, _ := encode(t, bad)
	writeFiles(t, dir, map[string][]byte{
		"pipelines/bad.json":    badData,
		"pipelines/future.json": []byte(`{"format":"sluice/pipeline.v9","name":"future"}`),
	})

	code, out, errOut := run(t, nil, "validate", dir) // a folder laid out as a registry
	if code != 1 {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var badLines []string
	for _, p := range definition.ValidatePipeline(bad) {
		badLines = append(badLines, "  "+p.Path+": "+p.Message+"\n")
	}
	if len(badLines) == 0 {
		t.Fatal("the bad pipeline is valid: fix the test")
	}
	want := "error pipelines/bad.json:\n" + strings.Join(badLines, "") +
		fmt.Sprintf("ok pipelines/clicks.json %s\n", v["pipelines/clicks.json"]) +
		"error pipelines/future.json:\n" +
		"  format: unknown format \"sluice/pipeline.v9\": this build reads sluice/pipeline.v1, sluice/emr-template.v1, sluice/replication.v1\n" +
		fmt.Sprintf("ok pipelines/views.json %s\nok emr-templates/small.json %s\n", v["pipelines/views.json"], v["emr-templates/small.json"])
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
	if !strings.Contains(badLines[0], "schedule.cron") {
		t.Errorf("expected a schedule.cron problem, got %q", badLines)
	}
}

func TestValidate_EMRTemplateMissingFromTheRegistryIsReportedOnTheActivity(t *testing.T) {
	dir := t.TempDir()
	data, _ := encode(t, pipeline("clicks", "large"))
	tmpl, _ := encode(t, emrTemplate("small"))
	writeFiles(t, dir, map[string][]byte{"pipelines/clicks.json": data, "emr-templates/small.json": tmpl})

	code, out, _ := run(t, nil, "validate", "file://"+dir)
	if code != 1 {
		t.Fatalf("exit %d, stdout:\n%s", code, out)
	}
	want := "error pipelines/clicks.json:\n" +
		`  activities.transform.emr_step.template: EMR template "large" is not in the registry (expected key emr-templates/large.json; templates present: small): publish it with a sluice_emr_template resource` + "\n"
	if !strings.HasPrefix(out, want) {
		t.Errorf("stdout:\n%s\nwant prefix:\n%s", out, want)
	}
}

func TestValidate_EditedDocumentAndMisplacedNameAreReported(t *testing.T) {
	dir := t.TempDir()
	data, _ := encode(t, pipeline("clicks", ""))
	edited := bytes.Replace(data, []byte(`"enabled":true`), []byte(`"enabled":false`), 1)
	writeFiles(t, dir, map[string][]byte{"pipelines/other.json": edited})
	code, out, _ := run(t, nil, "validate", dir)
	if code != 1 {
		t.Fatalf("exit %d, stdout:\n%s", code, out)
	}
	for _, want := range []string{
		"error pipelines/other.json:\n",
		`  name: "clicks" is published at pipelines/other.json, but a document of that name belongs at pipelines/clicks.json`,
		"  version: version does not match the content",
		"  activities.transform.emr_step: set exactly one of template",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

func TestValidate_JSONOutputIsOneObjectPerDocument(t *testing.T) {
	dir, v := validRegistry(t)
	writeFiles(t, dir, map[string][]byte{"pipelines/broken.json": []byte(`{"format":`)})
	code, out, _ := run(t, nil, "validate", dir, "--output", "json")
	if code != 1 {
		t.Fatalf("exit %d, stdout:\n%s", code, out)
	}
	type problem struct{ Path, Message string }
	var got []struct {
		Key, Format, Name, Version string
		Valid                      bool
		Problems                   []problem
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(got) != 4 {
		t.Fatalf("%d results, want 4:\n%s", len(got), out)
	}
	if got[0].Key != "pipelines/broken.json" || got[0].Valid || len(got[0].Problems) != 1 ||
		!strings.HasPrefix(got[0].Problems[0].Message, "not a sluice document") {
		t.Errorf("broken: %+v", got[0])
	}
	if c := got[1]; c.Key != "pipelines/clicks.json" || !c.Valid || c.Name != "clicks" ||
		c.Format != definition.FormatPipeline || c.Version != v["pipelines/clicks.json"] || len(c.Problems) != 0 {
		t.Errorf("clicks: %+v", c)
	}
	if !strings.Contains(out, `"problems": []`) {
		t.Errorf("a valid document should have an empty problems array:\n%s", out)
	}
}

func TestValidate_SingleFileChecksItsTemplatesAgainstTheRegistry(t *testing.T) {
	dir, _ := validRegistry(t)
	file := filepath.Join(t.TempDir(), "clicks.json")
	data, v := encode(t, pipeline("clicks", "small"))
	writeFiles(t, filepath.Dir(file), map[string][]byte{"clicks.json": data})

	code, out, _ := run(t, nil, "validate", file, "--registry", "file://"+dir)
	if want := "ok " + filepath.ToSlash(file) + " " + v + "\n"; code != 0 || out != want {
		t.Errorf("exit %d, stdout %q, want %q", code, out, want)
	}
	code, out, _ = run(t, nil, "validate", file, "--registry", "file://"+t.TempDir())
	if code != 1 || !strings.Contains(out, `EMR template "small" is not in the registry`) {
		t.Errorf("empty registry: exit %d, stdout:\n%s", code, out)
	}
}

func TestValidate_UsageAndIOErrorsExitTwo(t *testing.T) {
	for name, args := range map[string][]string{
		"nothing to validate": {"validate"},
		"two paths":           {"validate", "a", "b"},
		"missing path":        {"validate", filepath.Join(t.TempDir(), "nope")},
		"bad registry URL":    {"validate", "--registry", "http://example.com"},
		"bad output":          {"validate", t.TempDir(), "--output", "yaml"},
		"bad log level":       {"validate", t.TempDir(), "--log-level", "loud"},
		"unknown flag":        {"validate", "--nope"},
		"unknown command":     {"frobnicate"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := run(t, nil, args...)
			if code != 2 || !strings.Contains(errOut, "sluice-runner: ") {
				t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
		})
	}
}

func TestValidate_LogsAreJSONOnStderr(t *testing.T) {
	dir, _ := validRegistry(t)
	_, _, errOut := run(t, nil, "validate", dir)
	var line struct {
		Level, Msg, Command string
		Documents, Invalid  int
	}
	first, _, _ := strings.Cut(errOut, "\n")
	if err := json.Unmarshal([]byte(first), &line); err != nil {
		t.Fatalf("stderr is not JSON lines: %v\n%s", err, errOut)
	}
	if line.Msg != "validated" || line.Command != "validate" || line.Documents != 3 || line.Invalid != 0 {
		t.Errorf("log line %+v", line)
	}
}

func TestValidate_S3RegistryOnTheStandIn(t *testing.T) {
	x, err := acctest.StartS3(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.Stop)
	bucket := x.NewBucket(t)
	client, err := x.Client()
	if err != nil {
		t.Fatal(err)
	}
	url := "s3://" + bucket + "/sluice"
	reg, err := registry.Open(context.Background(), url, client)
	if err != nil {
		t.Fatal(err)
	}
	good, gv := encode(t, pipeline("clicks", "small"))
	missing, _ := encode(t, pipeline("views", "large"))
	tmpl, tv := encode(t, emrTemplate("small"))
	for key, data := range map[string][]byte{
		registry.PipelineKey("clicks"): good, registry.PipelineKey("views"): missing, registry.EMRTemplateKey("small"): tmpl,
	} {
		if err := reg.Put(context.Background(), key, data); err != nil {
			t.Fatal(err)
		}
	}
	const secret = "s3cr3t-never-logged"
	// Credentials come from the SDK's chain: point it at dummies and away from the home directory.
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	// The flag wins over AWS_ENDPOINT_URL_S3, which points nowhere.
	env := map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:1"}
	code, out, errOut := run(t, env, "validate", "--registry", url, "--region", acctest.Region, "--s3-endpoint", x.Endpoint, "--log-level", "debug")
	want := fmt.Sprintf("ok pipelines/clicks.json %s\nerror pipelines/views.json:\n", gv) +
		`  activities.transform.emr_step.template: EMR template "large" is not in the registry (expected key emr-templates/large.json; templates present: small): publish it with a sluice_emr_template resource` + "\n" +
		fmt.Sprintf("ok emr-templates/small.json %s\n", tv)
	if code != 1 || out != want {
		t.Errorf("exit %d, stdout:\n%s\nwant:\n%s\nstderr:\n%s", code, out, want, errOut)
	}
	if strings.Contains(errOut, secret) {
		t.Errorf("the secret key is in the logs:\n%s", errOut)
	}

	code, out, errOut = run(t, map[string]string{cli.EnvRegistry: url, "AWS_ENDPOINT_URL_S3": x.Endpoint},
		"graph", "clicks", "--region", acctest.Region, "--format", "mermaid")
	if code != 0 || !strings.HasPrefix(out, "flowchart LR\n  act_extract[") {
		t.Errorf("graph over s3 with the endpoint from AWS_ENDPOINT_URL_S3: exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func TestGraph_PrintsThePipelineAsDOTByDefault(t *testing.T) {
	dir, _ := validRegistry(t)
	code, out, errOut := run(t, nil, "graph", "clicks", "--registry", "file://"+dir)
	want := `digraph "clicks" {
  rankdir=LR;
  node [shape=box];
  "extract" [label="extract\nshell"];
  "transform" [label="transform\nemr_step"];
  "publish" [label="publish\nshell"];
  "extract" -> "transform";
  "transform" -> "publish";
}
`
	if code != 0 || out != want {
		t.Errorf("exit %d, stdout:\n%s\nwant:\n%s\nstderr:\n%s", code, out, want, errOut)
	}
}

func TestGraph_PrintsMermaidWhenAsked(t *testing.T) {
	dir, _ := validRegistry(t)
	code, out, _ := run(t, map[string]string{cli.EnvRegistry: "file://" + dir}, "graph", "views", "--format", "mermaid")
	want := "flowchart LR\n" +
		"  act_extract[\"extract<br/>shell\"]\n" +
		"  act_transform[\"transform<br/>emr_step\"]\n" +
		"  act_publish[\"publish<br/>shell\"]\n" +
		"  act_extract --> act_transform\n" +
		"  act_transform --> act_publish\n"
	if code != 0 || out != want {
		t.Errorf("exit %d, stdout:\n%s\nwant:\n%s", code, out, want)
	}
}

func TestGraph_MissingPipelineNamesTheRegistryAndKey(t *testing.T) {
	dir, _ := validRegistry(t)
	url := "file://" + dir
	code, out, errOut := run(t, nil, "graph", "nope", "--registry", url)
	want := fmt.Sprintf("sluice-runner: pipeline \"nope\" is not in registry %s (no document at key pipelines/nope.json): check the name and --registry\n", url)
	if code != 1 || out != "" || !strings.HasSuffix(errOut, want) {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant suffix:\n%s", code, out, errOut, want)
	}
}

func TestGraph_UsageErrorsExitTwo(t *testing.T) {
	dir, _ := validRegistry(t)
	for name, args := range map[string][]string{
		"no pipeline": {"graph", "--registry", "file://" + dir},
		"no registry": {"graph", "clicks"},
		"bad format":  {"graph", "clicks", "--registry", "file://" + dir, "--format", "svg"},
		"json output": {"graph", "clicks", "--registry", "file://" + dir, "--output", "json"},
	} {
		t.Run(name, func(t *testing.T) {
			if code, out, errOut := run(t, nil, args...); code != 2 {
				t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
		})
	}
}
