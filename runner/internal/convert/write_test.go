package convert

import (
	"strings"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

func TestQuote_EscapesEverythingTerraformWouldInterpret(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:                        `"plain"`,
		`say "hi" \ back`:              `"say \"hi\" \\ back"`,
		"two\nlines\ttab":              `"two\nlines\ttab"`,
		"${not_hcl} %{if x}":           `"$${not_hcl} %%{if x}"`,
		"{{ ds .Start }}":              `"{{ ds .Start }}"`,
		"arn:" + VarRef("topic") + "x": `"arn:${var.topic}x"`,
		"<script>alert(1)</script>":    `"<script>alert(1)</script>"`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

// Every activity kind writes its block: an activity written without one would be an empty
// object in main.tf, which Terraform refuses.
func TestActivityObject_WritesEveryKind(t *testing.T) {
	acts := map[string]*definition.Activity{
		definition.KindShell:        {Shell: &definition.ShellActivity{Command: []string{"true"}}},
		definition.KindS3Copy:       {S3Copy: &definition.S3CopyActivity{From: "s3://a/", To: "s3://b/"}},
		definition.KindEMRStep:      {EMRStep: &definition.EMRStepActivity{Template: "t", Steps: []definition.EMRStep{{Name: "s", Command: []string{"x"}}}}},
		definition.KindRedshiftCopy: {RedshiftCopy: &definition.RedshiftCopyActivity{Connection: "c", Table: "a.b", From: "s3://a/", Format: "csv", InsertMode: "APPEND"}},
		definition.KindSQL:          {SQL: &definition.SQLActivity{Connection: "c", Statements: []string{"SELECT 1"}}},
		definition.KindCheck:        {Check: &definition.CheckActivity{Connection: "c", Table: "a.b", Unique: []string{"id"}}},
		definition.KindExport:       {Export: &definition.ExportActivity{Connection: "c", Query: "SELECT 1", To: "s3://a/", Format: "csv", Gzip: true}},
	}
	r := &Result{}
	for _, kind := range definition.ActivityKinds() {
		if kind == definition.KindStreamPut {
			continue // the converters never write stream_put
		}
		a, ok := acts[kind]
		if !ok {
			t.Fatalf("no test activity of kind %s", kind)
		}
		if got := Value(r.activityObject(a), ""); !strings.Contains(got, kind+" = {") {
			t.Errorf("kind %s written as\n%s", kind, got)
		}
	}
}

func TestReport_FreeTextFromTheSourceCannotInjectMarkup(t *testing.T) {
	r := &Result{Source: "x<script>.json", Kind: "AWS Data Pipeline", Pipeline: &definition.Pipeline{Name: "p"}}
	e := r.Entry("<script>alert(1)</script>", "Shell|Command")
	e.Omit("field a | b\nsecond line")
	out := r.Report()
	for _, bad := range []string{"<script>", "\nsecond line"} {
		if strings.Contains(out, bad) {
			t.Errorf("the report holds %q:\n%s", bad, out)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", `Shell\|Command`, "partial", "exited 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	if r.Complete() {
		t.Error("a partial entry makes the conversion incomplete")
	}
}
