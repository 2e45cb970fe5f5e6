package itest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// eventStack is what the event-driven tests run against: goaws (SQS and SNS), gofakes3 and
// PostgreSQL for the warehouse.
type eventStack struct {
	g         *acctest.Goaws
	s3        *acctest.S3
	s3c       *s3.Client
	sqs       *sqs.Client
	sns       *sns.Client
	warehouse string
}

func startEventStack(t *testing.T, topics ...string) *eventStack {
	t.Helper()
	ctx := context.Background()
	g, err := acctest.StartGoaws(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Stop)
	x, err := acctest.StartS3(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.Stop)
	st := &eventStack{g: g, s3: x, warehouse: acctest.NewPostgresDatabase(t)}
	if st.s3c, err = x.Client(); err != nil {
		t.Fatal(err)
	}
	if st.sqs, err = g.SQS(); err != nil {
		t.Fatal(err)
	}
	if st.sns, err = g.SNS(); err != nil {
		t.Fatal(err)
	}
	return st
}

// env is the runner's environment on the stack.
func (st *eventStack) env(registry, database, work string) []string {
	return []string{"SLUICE_REGISTRY=" + registry, "SLUICE_DATABASE=" + database, "SLUICE_CONN_WAREHOUSE=" + st.warehouse,
		"SLUICE_EMR_MODE=local", "SLUICE_WORK_DIR=" + work, "AWS_EC2_METADATA_DISABLED=true", "AWS_REGION=" + st.g.Region,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_ENDPOINT_URL_SQS=" + st.g.Endpoint, "AWS_ENDPOINT_URL_SNS=" + st.g.Endpoint, "AWS_ENDPOINT_URL_S3=" + st.s3.Endpoint}
}

func (st *eventStack) put(t *testing.T, bucket, key, body string) {
	t.Helper()
	if _, err := st.s3c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}

// applyExample applies examples/<name> with the real Terraform and the provider built from this
// tree.
func applyExample(t *testing.T, name string, vars map[string]string) {
	t.Helper()
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" || os.Getenv("TF_ACC") == "" {
		t.Skip("needs TF_ACC=1 and TF_ACC_TERRAFORM_PATH (make test sets both)")
	}
	bin := t.TempDir()
	provider := filepath.Join(bin, "terraform-provider-sluice")
	build := exec.Command("go", "build", "-o", provider, ".")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	dir := t.TempDir()
	src := filepath.Join(repoRoot, "examples", name)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tf") {
			data, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	rc := filepath.Join(bin, "terraformrc")
	if err := os.WriteFile(rc, []byte(fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"sluice-data/sluice\" = %q\n  }\n  direct {}\n}\n", bin)), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"apply", "-no-color", "-input=false", "-auto-approve"}
	for k, v := range vars {
		args = append(args, "-var", k+"="+v)
	}
	cmd := exec.Command(tf, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("terraform apply examples/%s: %v\n%s", name, err, out)
	}
}

// statusOf returns `sluice-runner status --output json` for the pipelines.
func statusOf(t *testing.T, env []string) map[string]status.Pipeline {
	t.Helper()
	cmd := exec.Command(runnerBin, "status", "--output", "json", "--runs", "20")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("status: %v\n%s", err, errOut.String())
	}
	var ps []status.Pipeline
	if err := json.Unmarshal(out.Bytes(), &ps); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, out.String())
	}
	m := map[string]status.Pipeline{}
	for _, p := range ps {
		m[p.Name] = p
	}
	return m
}

func succeeded(p status.Pipeline) int { return p.Counts[status.RunSuccess] }

// TestEventDrivenExamples applies examples/event-driven and drives its three patterns through
// sluice-runner serve: order files announced by S3 through SNS to SQS are loaded into
// PostgreSQL (one announcement delivered twice), click logs announced to SQS directly (one by
// EventBridge) are parsed by a local EMR streaming step in one batch, and orders_load's success
// notifications reach orders_report through SNS and SQS, and orders_audit through trigger.after.
func TestEventDrivenExamples(t *testing.T) {
	st := startEventStack(t, "orders-created", "orders-loaded")
	ctx := context.Background()
	clicksQueue, err := st.g.CreateQueue(ctx, "clicks-created")
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, st.warehouse, `CREATE SCHEMA sales;
		CREATE TABLE sales.orders (order_id bigint NOT NULL, day date NOT NULL, amount numeric NOT NULL);
		CREATE TABLE sales.daily_totals (day date NOT NULL, orders bigint NOT NULL, amount numeric NOT NULL)`)
	if err := st.s3.CreateBucket("acme-raw"); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(repoRoot, "examples", "event-driven", "extract_pages.py"))
	if err != nil {
		t.Fatal(err)
	}
	st.put(t, "acme-raw", "code/extract_pages.py", string(script))

	reg := "file://" + filepath.Join(t.TempDir(), "registry")
	applyExample(t, "event-driven", map[string]string{
		"registry": reg, "region": st.g.Region, "clicks_batch_wait": "3s", "raw_bucket": "acme-raw", "code_root": "s3://acme-raw/code",
		"orders_queue_url": st.g.SinkQueueURL("orders-created"), "clicks_queue_url": clicksQueue,
		"done_topic_arn": st.g.TopicARN("orders-loaded"), "done_queue_url": st.g.SinkQueueURL("orders-loaded"),
	})

	work := t.TempDir()
	env := st.env(reg, "sqlite://"+filepath.Join(work, "state.db"), work)
	logPath := filepath.Join(work, "runner.log")
	runner(t, logPath, env, "serve", "--tick", "300ms", "--listen", "")
	waitLog(t, logPath, "consuming a trigger queue", 3)

	// Pattern 1: two order files land; S3 tells the topic, which tells the queue. The first
	// announcement arrives twice.
	orders := map[string]string{
		"orders/2026-11-18/batch-0001.csv": "1,2026-11-18,10.50\n2,2026-11-18,4.25\n3,2026-11-18,99.00\n",
		"orders/2026-11-19/batch-0001.csv": "4,2026-11-19,1.00\n",
	}
	seq := 0
	for key, body := range orders {
		st.put(t, "acme-raw", key, body)
		seq++
		ev := acctest.S3EventNotification(acctest.S3Object{Bucket: "acme-raw", Key: key, Size: int64(len(body)),
			ETag: fmt.Sprintf("etag-%d", seq), Sequencer: fmt.Sprintf("0055AED6DCD9%06X", seq), Time: time.Now()})
		times := 1
		if strings.Contains(key, "2026-11-18") {
			times = 2
		}
		for range times {
			if _, err := st.sns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(st.g.TopicARN("orders-created")), Message: aws.String(ev)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Pattern 2: three click logs of one hour, announced to the queue directly; one by
	// EventBridge.
	clicks := []string{"clicks/2026-11-18/13/a.log", "clicks/2026-11-18/13/b.log", "clicks/2026-11-18/13/c.log"}
	for i, key := range clicks {
		body := fmt.Sprintf("timestamp,page,user\n2026-11-18T13:0%d:00Z,/home,u%d\n2026-11-18T13:0%d:30Z,/cart,u%d\n", i, i, i, i)
		st.put(t, "acme-raw", key, body)
		o := acctest.S3Object{Bucket: "acme-raw", Key: key, Size: int64(len(body)), ETag: fmt.Sprintf("c%d", i), Sequencer: fmt.Sprintf("0066%04X", i), Time: time.Now()}
		msg := acctest.S3EventNotification(o)
		if i == 2 {
			msg = acctest.EventBridgeObjectCreated(o)
		}
		if _, err := st.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(clicksQueue), MessageBody: aws.String(msg)}); err != nil {
			t.Fatal(err)
		}
	}

	deadline := time.Now().Add(4 * time.Minute)
	var ps map[string]status.Pipeline
	for {
		ps = statusOf(t, env)
		if succeeded(ps["orders_load"]) == 2 && succeeded(ps["orders_report"]) == 2 && succeeded(ps["orders_audit"]) == 2 && succeeded(ps["clicks_parse"]) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out; status %+v\n%s", ps, tail(readFile(logPath), 60))
		}
		time.Sleep(300 * time.Millisecond)
	}
	// Give a duplicate a chance to make a second run, then count again.
	time.Sleep(2 * time.Second)
	ps = statusOf(t, env)
	for name, want := range map[string]int{"orders_load": 2, "orders_report": 2, "orders_audit": 2, "clicks_parse": 1} {
		total := 0
		for _, n := range ps[name].Counts {
			total += n
		}
		if total != want || succeeded(ps[name]) != want {
			t.Errorf("%s: runs %v, want %d successful and nothing else", name, ps[name].Counts, want)
		}
	}
	if got := queryInts(t, st.warehouse, `SELECT count(*) FROM sales.orders`); got[0] != 4 {
		t.Errorf("sales.orders has %d rows, want 4", got[0])
	}
	if got := queryInts(t, st.warehouse, `SELECT orders FROM sales.daily_totals ORDER BY day`); len(got) != 2 || got[0] != 3 || got[1] != 1 {
		t.Errorf("daily totals %v, want [3 1]", got)
	}
	// The load's runs have the days their keys name as intervals; the report's are the same.
	for _, name := range []string{"orders_load", "orders_report", "orders_audit"} {
		var days []string
		for _, r := range ps[name].Runs {
			days = append(days, r.IntervalStart.UTC().Format(time.RFC3339)+"/"+r.IntervalEnd.UTC().Format(time.RFC3339))
			if r.Event == nil {
				t.Errorf("%s run %d shows no event", name, r.ID)
			}
		}
		if strings.Join(days, " ") != "2026-11-19T00:00:00Z/2026-11-20T00:00:00Z 2026-11-18T00:00:00Z/2026-11-19T00:00:00Z" {
			t.Errorf("%s intervals %v", name, days)
		}
	}
	// The click logs made one run of one batch, for the hour their keys name, and the step
	// wrote every click.
	cr := ps["clicks_parse"].Runs[0]
	if cr.Event == nil || cr.Event.Objects != 3 || cr.Event.Messages != 3 || cr.IntervalStart.UTC().Format(time.RFC3339) != "2026-11-18T13:00:00Z" {
		t.Errorf("clicks_parse run %+v event %+v", cr, cr.Event)
	}
	out, err := st.s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("acme-raw"), Prefix: aws.String("parsed/clicks/2026-11-18/13/")})
	if err != nil {
		t.Fatal(err)
	}
	var parsed strings.Builder
	for _, o := range out.Contents {
		if strings.HasSuffix(aws.ToString(o.Key), "_SUCCESS") {
			continue
		}
		obj, err := st.s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("acme-raw"), Key: o.Key})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(obj.Body)
		obj.Body.Close()
		parsed.WriteString(b.String())
	}
	if n := strings.Count(parsed.String(), "\n"); n != 6 || !strings.Contains(parsed.String(), "/cart\tu2") {
		t.Errorf("parsed clicks (%d lines):\n%s", n, parsed.String())
	}
	// The runner's text status names the trigger and the event.
	cmd := exec.Command(runnerBin, "status", "orders_load")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	text, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(text), "trigger:   sqs "+st.g.SinkQueueURL("orders-created")) ||
		!strings.Contains(string(text), "event: 1 messages, 1 objects: s3://acme-raw/orders/2026-11-18/batch-0001.csv") {
		t.Errorf("status:\n%s\n%v", text, err)
	}
	if t.Failed() {
		t.Log(tail(readFile(logPath), 80))
	}
}

// waitLog waits until the runner's log holds text n times.
func waitLog(t *testing.T, logPath, text string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for strings.Count(readFile(logPath), text) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the runner did not log %q %d times:\n%s", text, n, tail(readFile(logPath), 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
