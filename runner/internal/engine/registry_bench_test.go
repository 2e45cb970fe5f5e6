package engine_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

// The registry workload: 1,000 published pipelines, none due (their schedules start after the
// engine's clock), so that a tick is the registry and the bookkeeping of each pipeline.
const regPipelines = 1000

// requestCounter counts S3 requests by kind (a list request is one page of up to 1,000 keys).
type requestCounter struct {
	registry.S3API
	lists, gets atomic.Int64
}

func (c *requestCounter) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	c.lists.Add(1)
	return c.S3API.ListObjectsV2(ctx, in, opts...)
}

func (c *requestCounter) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	c.gets.Add(1)
	return c.S3API.GetObject(ctx, in, opts...)
}

// BenchmarkRegistryTick times one scheduler tick over 1,000 published pipelines in an s3://
// registry (gofakes3 on 127.0.0.1) and a file:// one: the first tick, which reads every
// document (what every tick cost before ticks listed with stamps), and an unchanged tick, which
// reads none. It reports the S3 requests of each (list pages and GETs) and the milliseconds.
func BenchmarkRegistryTick(b *testing.B) {
	b.Run("s3", func(b *testing.B) {
		x, err := acctest.StartS3(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		defer x.Stop()
		client, err := x.Client()
		if err != nil {
			b.Fatal(err)
		}
		counter := &requestCounter{S3API: client}
		benchRegistryTick(b, func(b *testing.B) (registry.Registry, func() (int64, int64)) {
			bucket := x.NewBucket(b)
			reg, err := registry.Open(context.Background(), "s3://"+bucket+"/sluice", counter)
			if err != nil {
				b.Fatal(err)
			}
			return reg, func() (int64, int64) { return counter.lists.Swap(0), counter.gets.Swap(0) }
		})
	})
	b.Run("file", func(b *testing.B) {
		benchRegistryTick(b, func(b *testing.B) (registry.Registry, func() (int64, int64)) {
			reg, err := registry.Open(context.Background(), "file://"+filepath.Join(b.TempDir(), "registry"), nil)
			if err != nil {
				b.Fatal(err)
			}
			counting := &countingRegistry{Registry: reg, gets: map[string]int{}}
			return counting, func() (int64, int64) {
				n := 0
				for _, c := range counting.reads() {
					n += c
				}
				return 1, int64(n) // one directory listing
			}
		})
	})
}

func benchRegistryTick(b *testing.B, open func(b *testing.B) (registry.Registry, func() (lists, gets int64))) {
	b.StopTimer()
	ctx := context.Background()
	var coldTime, warmTime time.Duration
	var coldLists, coldGets, warmLists, warmGets int64
	for range b.N {
		reg, requests := open(b)
		for i := range regPipelines {
			p := shellPipeline(fmt.Sprintf("p%04d", i), func(p *definition.Pipeline) {
				p.Schedule.Start = t0.Add(1000 * time.Hour).Format(time.RFC3339)
			})
			put(b, reg, p)
		}
		db, err := state.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "state.db"))
		if err != nil {
			b.Fatal(err)
		}
		e, err := engine.New(engine.Options{DB: db, Registry: reg, Schedule: true,
			Executors: map[string]activity.Executor{definition.KindShell: activity.Noop},
			Now:       func() time.Time { return t0 }})
		if err != nil {
			b.Fatal(err)
		}
		requests()
		b.StartTimer()
		began := time.Now()
		if err := e.Tick(ctx); err != nil {
			b.Fatal(err)
		}
		coldTime += time.Since(began)
		l, g := requests()
		coldLists, coldGets = coldLists+l, coldGets+g
		began = time.Now()
		if err := e.Tick(ctx); err != nil {
			b.Fatal(err)
		}
		warmTime += time.Since(began)
		b.StopTimer()
		l, g = requests()
		warmLists, warmGets = warmLists+l, warmGets+g
		db.Close()
	}
	n := float64(b.N)
	b.ReportMetric(float64(coldTime.Milliseconds())/n, "first-tick-ms")
	b.ReportMetric(float64(coldLists)/n, "first-tick-lists")
	b.ReportMetric(float64(coldGets)/n, "first-tick-gets")
	b.ReportMetric(float64(warmTime.Milliseconds())/n, "unchanged-tick-ms")
	b.ReportMetric(float64(warmLists)/n, "unchanged-tick-lists")
	b.ReportMetric(float64(warmGets)/n, "unchanged-tick-gets")
}
