package acctest

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
)

func TestGoaws_PublishedMessageReachesTheSubscribedQueue(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g, err := StartGoaws(ctx, "alerts", "other")
	if err != nil {
		t.Fatal(err)
	}
	dir := g.dir
	stopped := false
	defer func() {
		if !stopped {
			g.Stop()
		}
	}()

	if !strings.HasPrefix(g.Endpoint, "http://127.0.0.1:") {
		t.Errorf("Endpoint = %q, want http://127.0.0.1:<port>", g.Endpoint)
	}
	if got, want := g.TopicARN("alerts"), "arn:aws:sns:us-east-1:000000000000:alerts"; got != want {
		t.Errorf("TopicARN = %q, want %q", got, want)
	}
	cfg, err := os.ReadFile(dir + "/goaws.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`Host: "127.0.0.1"`, `Name: "alerts"`, `QueueName: "alerts-sink"`, `Name: "` + DefaultTopic + `"`} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}

	client, err := g.SNS()
	if err != nil {
		t.Fatal(err)
	}
	out, err := client.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(g.TopicARN("alerts")),
		Subject:  aws.String("hello subject"),
		Message:  aws.String(`{"a":1}`),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"event": {DataType: aws.String("String"), StringValue: aws.String("failure")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.MessageId) == "" {
		t.Error("Publish returned no MessageId")
	}

	got, err := g.Receive(ctx, "alerts")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("Receive returned %d messages, want 1: %+v", len(got), got)
	}
	n := got[0]
	if n.Subject != "hello subject" || n.Message != `{"a":1}` || n.TopicArn != g.TopicARN("alerts") {
		t.Errorf("notification = %+v", n)
	}
	if n.MessageAttributes["event"] != "failure" || n.DataTypes["event"] != "String" {
		t.Errorf("attributes = %v / %v", n.MessageAttributes, n.DataTypes)
	}

	// Received messages are deleted, and other topics' queues are separate.
	for _, topic := range []string{"alerts", "other"} {
		again, err := g.Receive(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != 0 {
			t.Errorf("Receive(%s) returned %d more messages, want 0", topic, len(again))
		}
	}

	if _, err := g.Receive(ctx, "never-created"); err == nil || !strings.Contains(err.Error(), "never-created") {
		t.Errorf("Receive of an unknown topic: err = %v", err)
	}
	_, err = client.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(g.TopicARN("never-created")), Message: aws.String("x")})
	if err == nil {
		t.Error("Publish to an unknown topic succeeded")
	}

	g.Stop()
	stopped = true
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Stop left %s behind (stat err %v)", dir, err)
	}
	if _, err := http.Get(g.Endpoint + "/health"); err == nil {
		t.Error("goaws still answers after Stop")
	}
}

func TestStartGoaws_RejectsBadTopicNames(t *testing.T) {
	for _, name := range []string{"", "has space", "a:b", strings.Repeat("x", 71)} {
		g, err := StartGoaws(context.Background(), name)
		if err == nil {
			g.Stop()
			t.Errorf("StartGoaws accepted topic name %q", name)
		}
	}
}

func TestGoawsPath_MissingBinaryNamesMakeTools(t *testing.T) {
	t.Setenv("SLUICE_GOAWS", t.TempDir()+"/no-such-goaws")
	_, err := GoawsPath()
	if err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("GoawsPath err = %v, want one naming make tools", err)
	}
}
