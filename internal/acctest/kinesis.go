package acctest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
)

// Region is the region the local stand-ins and test provider blocks use.
const Region = "us-east-1"

// Kinesis is a running kinesis-local (kinesis-mock) process.
type Kinesis struct {
	// Endpoint is the plain-HTTP URL, e.g. http://127.0.0.1:41234.
	Endpoint string
	cmd      *exec.Cmd
	dir      string
	done     chan error
}

// kinesisEnv makes kinesis-local quick enough for tests while keeping the state machine real:
// every change still goes through CREATING/UPDATING before ACTIVE.
var kinesisEnv = map[string]string{
	"CREATE_STREAM_DURATION":            "200ms",
	"DELETE_STREAM_DURATION":            "200ms",
	"UPDATE_SHARD_COUNT_DURATION":       "200ms",
	"UPDATE_STREAM_MODE_DURATION":       "200ms",
	"START_STREAM_ENCRYPTION_DURATION":  "200ms",
	"STOP_STREAM_ENCRYPTION_DURATION":   "200ms",
	"REGISTER_STREAM_CONSUMER_DURATION": "200ms",
	"SHARD_LIMIT":                       "1000",
	"ON_DEMAND_STREAM_COUNT_LIMIT":      "50",
	"LOG_LEVEL":                         "WARN",
	"AWS_REGION":                        Region,
	"SHOULD_PERSIST_DATA":               "false",
}

// StartKinesis starts kinesis-local on free 127.0.0.1 ports in a temporary directory and waits
// until it answers a ListStreams call.
func StartKinesis(ctx context.Context) (*Kinesis, error) {
	node, err := NodePath()
	if err != nil {
		return nil, err
	}
	main, err := KinesisLocalPath()
	if err != nil {
		return nil, err
	}
	plain, err := FreePort()
	if err != nil {
		return nil, err
	}
	tls, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sluice-kinesis-local-")
	if err != nil {
		return nil, fmt.Errorf("creating kinesis-local dir: %w", err)
	}
	logFile, err := os.Create(filepath.Join(dir, "kinesis-local.log"))
	if err != nil {
		return nil, fmt.Errorf("creating kinesis-local log: %w", err)
	}
	cmd := exec.Command(node, main)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = append(os.Environ(),
		"KINESIS_MOCK_PLAIN_PORT="+strconv.Itoa(plain),
		"KINESIS_MOCK_TLS_PORT="+strconv.Itoa(tls),
		"KINESIS_MOCK_CERT_PATH="+filepath.Join(filepath.Dir(main), "server.json"),
	)
	for k, v := range kinesisEnv {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting kinesis-local: %w", err)
	}
	k := &Kinesis{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", plain), cmd: cmd, dir: dir, done: make(chan error, 1)}
	go func() { k.done <- cmd.Wait(); _ = logFile.Close() }()

	if err := k.waitReady(ctx, 60*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "kinesis-local.log"))
		k.Stop()
		return nil, fmt.Errorf("kinesis-local did not become ready: %w\n%s", err, log)
	}
	return k, nil
}

func (k *Kinesis) waitReady(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	c, err := awsclient.New(ctx, k.Settings())
	if err != nil {
		return err
	}
	client := c.Kinesis()
	for {
		_, err := client.ListStreams(ctx, &kinesis.ListStreamsInput{})
		if err == nil {
			return nil
		}
		select {
		case exitErr := <-k.done:
			return fmt.Errorf("kinesis-local exited: %w", exitErr)
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Settings returns awsclient settings pointing at this kinesis-local with dummy credentials.
func (k *Kinesis) Settings() awsclient.Settings {
	return awsclient.Settings{
		Region: Region, AccessKey: "test", SecretKey: "test",
		Endpoints:                 map[awsclient.Service]string{awsclient.Kinesis: k.Endpoint},
		SkipCredentialsValidation: true, MaxRetries: 2,
	}
}

// Client returns a Kinesis client for this kinesis-local, for checks made behind Terraform's back.
func (k *Kinesis) Client() (*kinesis.Client, error) {
	c, err := awsclient.New(context.Background(), k.Settings())
	if err != nil {
		return nil, err
	}
	return c.Kinesis(), nil
}

// Stop kills kinesis-local and its children and removes its directory.
func (k *Kinesis) Stop() {
	if k == nil || k.cmd == nil || k.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case exitErr := <-k.done:
		_ = exitErr // the exit status of a process we killed says nothing useful
	case <-time.After(5 * time.Second):
	}
	_ = os.RemoveAll(k.dir)
}

// FreePort asks the kernel for a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("finding a free port: not a TCP address")
	}
	return addr.Port, nil
}

// CreateStream creates a provisioned stream of shards shards on this kinesis-local, waits until
// it is ACTIVE and returns its ARN.
func (k *Kinesis) CreateStream(t testing.TB, name string, shards int32) string {
	t.Helper()
	ctx := context.Background()
	c, err := k.Client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatalf("creating stream %s: %v", name, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			t.Fatalf("describing stream %s: %v", name, err)
		}
		if out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return aws.ToString(out.StreamDescriptionSummary.StreamARN)
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s is not ACTIVE after 30s", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
