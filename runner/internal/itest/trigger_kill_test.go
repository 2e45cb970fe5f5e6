package itest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	_ "modernc.org/sqlite" // reading the runner's state file

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// TestTriggerKill_SIGKILLedRunnersMakeEachEventsRunOnce sends a stream of S3 events (some
// duplicated) to a queue and SIGKILLs sluice-runner serve ten times while it consumes them: between receiving and recording, between recording and deleting, wherever it is. The
// last runner is left to finish. Every event has exactly one run: none twice, none lost.
func TestTriggerKill_SIGKILLedRunnersMakeEachEventsRunOnce(t *testing.T) {
	st := startEventStack(t)
	ctx := context.Background()
	queue, err := st.g.CreateQueue(ctx, "raw-events")
	if err != nil {
		t.Fatal(err)
	}
	p := &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "raw", Enabled: true,
		Trigger: &definition.Trigger{SQS: &definition.SQSTrigger{QueueURL: queue, Bucket: "acme-raw", Pattern: "raw/{date}/", VisibilityTimeout: "2s"},
			MaxActiveRuns: 50},
		Activities: map[string]*definition.Activity{"note": {Shell: &definition.ShellActivity{Command: []string{"true", "{{ .Params.date }}"}}}},
	}
	reg := publish(t, p)
	work := t.TempDir()
	dbPath := filepath.Join(work, "state.db")
	env := st.env(reg, "sqlite://"+dbPath, work)

	const events, dups = 2000, 400
	var bodies []string
	for i := range events {
		bodies = append(bodies, acctest.S3EventNotification(acctest.S3Object{Bucket: "acme-raw", Key: fmt.Sprintf("raw/2026-11-%02d/part-%05d.csv", 1+i%28, i),
			Size: 10, ETag: "e" + strconv.Itoa(i), Sequencer: fmt.Sprintf("00AA%08X", i), Time: time.Now()}))
	}
	for i := range dups {
		bodies = append(bodies, bodies[i*5]) // the same event in another message
	}
	rand.Shuffle(len(bodies), func(i, j int) { bodies[i], bodies[j] = bodies[j], bodies[i] })
	for from := 0; from < len(bodies); from += 10 {
		var entries []types.SendMessageBatchRequestEntry
		for i, b := range bodies[from:min(from+10, len(bodies))] {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(b)})
		}
		if _, err := st.sqs.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queue), Entries: entries}); err != nil {
			t.Fatal(err)
		}
	}

	logPath := filepath.Join(work, "runner.log")
	kills, midway := 0, 0 // midway: kills while events were still without a run
	var progress []string
	for range 10 {
		cmd := runner(t, logPath, env, "serve", "--tick", "200ms", "--listen", "")
		time.Sleep(time.Duration(400+rand.IntN(600)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		kills++
		r, _ := triggerTally(t, dbPath)
		if r < events {
			midway++
		}
		progress = append(progress, strconv.Itoa(r))
	}
	t.Logf("runs recorded after each of %d kills: %s", kills, strings.Join(progress, ", "))
	if midway < 5 {
		t.Errorf("only %d of %d kills came while events were still without a run: the test did not test much", midway, kills)
	}
	runner(t, logPath, env, "serve", "--tick", "200ms", "--listen", "")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		n, err := queueDepth(st, queue)
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := triggerTally(t, dbPath); n == 0 && r >= events {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %d messages left\n%s", n, tail(readFile(logPath), 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
	runs, objects := triggerTally(t, dbPath)
	duplicates, lost := 0, 0
	for i := range events {
		switch objects[fmt.Sprintf("raw/2026-11-%02d/part-%05d.csv", 1+i%28, i)] {
		case 0:
			lost++
		case 1:
		default:
			duplicates++
		}
	}
	log := readFile(logPath)
	t.Logf("messages in: %d (%d events, %d duplicated messages), runner SIGKILLed %d times (%d while events were without a run), runs made: %d, duplicates: %d, lost: %d; "+
		"batches whose events were all already in a run (duplicated messages, and redeliveries after a kill between record and delete): %d",
		len(bodies), events, dups, kills, midway, runs, duplicates, lost, strings.Count(log, "events already made their run"))
	if runs != events || duplicates != 0 || lost != 0 {
		t.Errorf("runs %d, duplicates %d, lost %d; want %d, 0, 0", runs, duplicates, lost, events)
	}
}

// triggerTally reads the runs of the runner's state file: how many, and how many runs hold each
// object key.
func triggerTally(t *testing.T, dbPath string) (runs int, objects map[string]int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	objects = map[string]int{}
	rows, err := db.Query(`SELECT event FROM sluice_run_events`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return 0, objects
		}
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			t.Fatal(err)
		}
		var ev definition.Event
		if err := json.Unmarshal([]byte(doc), &ev); err != nil {
			t.Fatal(err)
		}
		runs++
		for _, o := range ev.Objects {
			objects[o.Key]++
		}
	}
	return runs, objects
}

// queueDepth is goaws's ApproximateNumberOfMessages: every message on the queue, visible or not.
func queueDepth(st *eventStack, queue string) (int, error) {
	out, err := st.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queue),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
}
