package acctest

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
)

// The SNS/SQS stand-in is goaws (github.com/Admiral-Piett/goaws) v0.5.4, installed by `make
// tools` as bin/goaws. Facts from its source that shape this file:
//   - main is app/cmd; it reads a YAML file given with -config (without one it walks the working
//     directory for any goaws.yaml, so we always pass it) and the environment named by the first
//     argument, "Local" by default;
//   - it always listens on 0.0.0.0:<Port> (the address is hard-coded), so we pick a free port and
//     talk to it only through 127.0.0.1;
//   - an empty Host in the config silently resets the port to 4100, so Host is always set;
//   - topics and their SQS subscriptions are created from the config at startup; a non-raw
//     subscription delivers the SNS envelope (Subject, Message, MessageAttributes) as the SQS body;
//   - SNS is served over the Query protocol (what aws-sdk-go-v2 service/sns speaks), SQS over both
//     Query and JSON. We read queues with plain Query-protocol HTTP, so tests need no SQS SDK.

// GoawsAccountID is the account id in every ARN goaws hands out.
const GoawsAccountID = "000000000000"

// DefaultTopic is the topic StartGoaws always creates.
const DefaultTopic = "sluice-notifications"

var goawsName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,70}$`)

// Goaws is a running goaws process serving SNS and SQS on one port.
type Goaws struct {
	// Endpoint is the plain-HTTP URL for both SNS and SQS, e.g. http://127.0.0.1:41234.
	Endpoint string
	// Region and AccountID are the ones in the ARNs goaws hands out.
	Region    string
	AccountID string

	topics map[string]bool
	http   *http.Client
	cmd    *exec.Cmd
	dir    string
	done   chan error
}

// GoawsPath returns the goaws binary: SLUICE_GOAWS, else the project-local bin/goaws.
func GoawsPath() (string, error) {
	if p := os.Getenv("SLUICE_GOAWS"); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("SLUICE_GOAWS=%s is not an executable file: %w", p, errMissingTool)
		}
		return p, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, "bin", "goaws")
	if !isExecutable(p) {
		return "", fmt.Errorf("goaws not found at %s: %w", p, errMissingTool)
	}
	return p, nil
}

// StartGoaws starts goaws on a free port with a generated config holding DefaultTopic and the
// named topics, each with an SQS queue subscribed to it (read it back with Receive), and waits
// until it answers. Topic names are 1-70 letters, digits, '-' or '_'. Stop it with Stop.
func StartGoaws(ctx context.Context, topics ...string) (*Goaws, error) {
	bin, err := GoawsPath()
	if err != nil {
		return nil, err
	}
	g := &Goaws{
		Region: Region, AccountID: GoawsAccountID,
		topics: map[string]bool{DefaultTopic: true},
		http:   &http.Client{Timeout: 10 * time.Second},
		done:   make(chan error, 1),
	}
	for _, name := range topics {
		if !goawsName.MatchString(name) {
			return nil, fmt.Errorf("goaws topic name %q: want 1-70 letters, digits, '-' or '_'", name)
		}
		g.topics[name] = true
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	g.Endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
	g.dir, err = os.MkdirTemp("", "sluice-goaws-")
	if err != nil {
		return nil, fmt.Errorf("creating goaws dir: %w", err)
	}
	cfg := filepath.Join(g.dir, "goaws.yaml")
	if err := os.WriteFile(cfg, g.config(port), 0o600); err != nil {
		_ = os.RemoveAll(g.dir)
		return nil, fmt.Errorf("writing goaws config: %w", err)
	}
	logPath := filepath.Join(g.dir, "goaws.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		_ = os.RemoveAll(g.dir)
		return nil, fmt.Errorf("creating goaws log: %w", err)
	}
	g.cmd = exec.Command(bin, "-config", cfg, "-loglevel", "error", "Local")
	g.cmd.Dir = g.dir
	g.cmd.Stdout, g.cmd.Stderr = logFile, logFile
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := g.cmd.Start(); err != nil {
		_ = logFile.Close()
		_ = os.RemoveAll(g.dir)
		return nil, fmt.Errorf("starting goaws: %w", err)
	}
	go func() { g.done <- g.cmd.Wait(); _ = logFile.Close() }()

	if err := g.waitReady(ctx, 30*time.Second); err != nil {
		log, _ := os.ReadFile(logPath)
		g.Stop()
		return nil, fmt.Errorf("goaws did not become ready: %w\n%s", err, log)
	}
	return g, nil
}

// config renders the goaws YAML. Names are checked against goawsName, so they need no quoting
// beyond the JSON-style strings YAML accepts.
func (g *Goaws) config(port int) []byte {
	var b bytes.Buffer
	q := func(s string) string { j, _ := json.Marshal(s); return string(j) }
	fmt.Fprintf(&b, "Local:\n  Host: %s\n  Port: %s\n  Region: %s\n  AccountId: %s\n  LogToFile: false\n",
		q("127.0.0.1"), q(strconv.Itoa(port)), q(g.Region), q(g.AccountID))
	b.WriteString("  Topics:\n")
	for name := range g.topics {
		fmt.Fprintf(&b, "    - Name: %s\n      Subscriptions:\n        - QueueName: %s\n          Raw: false\n",
			q(name), q(sinkQueue(name)))
	}
	return b.Bytes()
}

// sinkQueue is the SQS queue subscribed to a topic.
func sinkQueue(topic string) string { return topic + "-sink" }

func (g *Goaws) waitReady(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		err := g.health(ctx)
		if err == nil {
			return nil
		}
		select {
		case exitErr := <-g.done:
			return fmt.Errorf("goaws exited: %w", exitErr)
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (g *Goaws) health(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.Endpoint+"/health", http.NoBody)
	if err != nil {
		return fmt.Errorf("goaws health check: %w", err)
	}
	resp, err := g.http.Do(req)
	if err != nil {
		return fmt.Errorf("goaws health check: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("goaws health check: HTTP %d", resp.StatusCode)
	}
	return nil
}

// TopicARN returns the ARN of a topic StartGoaws created, or of any name (for tests of unknown
// topics): arn:aws:sns:<Region>:<AccountID>:<name>.
func (g *Goaws) TopicARN(name string) string {
	return "arn:aws:sns:" + g.Region + ":" + g.AccountID + ":" + name
}

// Settings returns awsclient settings pointing SNS and SQS at this goaws with dummy credentials.
func (g *Goaws) Settings() awsclient.Settings {
	return awsclient.Settings{
		Region: g.Region, AccessKey: "test", SecretKey: "test",
		Endpoints:                 map[awsclient.Service]string{awsclient.SNS: g.Endpoint, awsclient.SQS: g.Endpoint},
		SkipCredentialsValidation: true, MaxRetries: 2,
	}
}

// SNS returns an SNS client for this goaws.
func (g *Goaws) SNS() (*sns.Client, error) {
	c, err := awsclient.New(context.Background(), g.Settings())
	if err != nil {
		return nil, err
	}
	return c.SNS(), nil
}

// SQS returns an SQS client for this goaws.
func (g *Goaws) SQS() (*sqs.Client, error) {
	c, err := awsclient.New(context.Background(), g.Settings())
	if err != nil {
		return nil, err
	}
	return c.SQS(), nil
}

// QueueURL is the URL of a queue of this goaws.
func (g *Goaws) QueueURL(name string) string { return g.Endpoint + "/" + g.AccountID + "/" + name }

// SinkQueueURL is the URL of the queue StartGoaws subscribed to a topic: what an SNS topic →
// SQS queue → trigger.sqs test reads.
func (g *Goaws) SinkQueueURL(topic string) string { return g.QueueURL(sinkQueue(topic)) }

// CreateQueue creates a queue and returns its URL.
func (g *Goaws) CreateQueue(ctx context.Context, name string) (string, error) {
	if !goawsName.MatchString(name) {
		return "", fmt.Errorf("goaws queue name %q: want 1-70 letters, digits, '-' or '_'", name)
	}
	if _, err := g.query(ctx, g.Endpoint, url.Values{"Action": {"CreateQueue"}, "QueueName": {name}}); err != nil {
		return "", fmt.Errorf("creating goaws queue %s: %w", name, err)
	}
	return g.QueueURL(name), nil
}

// Notification is one message published to a topic, as its subscribed queue received it (the
// SNS envelope of a non-raw subscription).
type Notification struct {
	MessageID string `json:"MessageId"`
	TopicArn  string `json:"TopicArn"`
	Subject   string `json:"Subject"`
	Message   string `json:"Message"`
	// MessageAttributes maps each attribute name to its string value.
	MessageAttributes map[string]string `json:"-"`
	// DataTypes maps each attribute name to its DataType ("String", "Number", ...).
	DataTypes map[string]string `json:"-"`
}

// Receive returns what was published to topic since the last Receive (at most 10 messages) and
// deletes it from the topic's queue. It does not wait: goaws delivers to subscribed queues before
// Publish returns.
func (g *Goaws) Receive(ctx context.Context, topic string) ([]Notification, error) {
	if !g.topics[topic] {
		return nil, fmt.Errorf("goaws topic %q was not created by StartGoaws", topic)
	}
	queueURL := g.Endpoint + "/" + g.AccountID + "/" + sinkQueue(topic)
	body, err := g.query(ctx, queueURL, url.Values{
		"Action": {"ReceiveMessage"}, "MaxNumberOfMessages": {"10"},
	})
	if err != nil {
		return nil, fmt.Errorf("receiving from goaws queue %s: %w", sinkQueue(topic), err)
	}
	var resp struct {
		Messages []struct {
			Body          string `xml:"Body"`
			ReceiptHandle string `xml:"ReceiptHandle"`
		} `xml:"ReceiveMessageResult>Message"`
	}
	if err := xml.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("decoding goaws ReceiveMessage response: %w\n%s", err, body)
	}
	out := make([]Notification, 0, len(resp.Messages))
	for _, m := range resp.Messages {
		var env struct {
			Notification
			Attrs map[string]struct {
				DataType    string `json:"DataType"`
				StringValue string `json:"StringValue"`
			} `json:"MessageAttributes"`
		}
		if err := json.Unmarshal([]byte(m.Body), &env); err != nil {
			return nil, fmt.Errorf("decoding the SNS envelope from goaws queue %s: %w\n%s", sinkQueue(topic), err, m.Body)
		}
		n := env.Notification
		n.MessageAttributes, n.DataTypes = map[string]string{}, map[string]string{}
		for k, v := range env.Attrs {
			n.MessageAttributes[k], n.DataTypes[k] = v.StringValue, v.DataType
		}
		out = append(out, n)
		if _, err := g.query(ctx, queueURL, url.Values{"Action": {"DeleteMessage"}, "ReceiptHandle": {m.ReceiptHandle}}); err != nil {
			return nil, fmt.Errorf("deleting a message from goaws queue %s: %w", sinkQueue(topic), err)
		}
	}
	return out, nil
}

// query POSTs a form-encoded Query-protocol request and returns the body of a 200 answer.
func (g *Goaws) query(ctx context.Context, endpoint string, form url.Values) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("building %s request: %w", form.Get("Action"), err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := g.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", form.Get("Action"), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the response: %w", form.Get("Action"), err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d: %s", form.Get("Action"), resp.StatusCode, body)
	}
	return body, nil
}

// Stop kills goaws and removes its directory.
func (g *Goaws) Stop() {
	if g == nil || g.cmd == nil || g.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case exitErr := <-g.done:
		_ = exitErr // the exit status of a process we killed says nothing useful
	case <-time.After(5 * time.Second):
	}
	_ = os.RemoveAll(g.dir)
}
