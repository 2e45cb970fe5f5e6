// Command demo-replicas runs examples/multi-region end to end on this machine, without AWS (see
// internal/demo, RunReplicas): kinesis-local, three PostgreSQL replicas, one subscriber runner
// per replica, a subscriber killed, the stream resharded, a replica taken away, and `sluice-runner
// replicas verify` at the end. `make demo-replicas` builds the binaries and runs it:
//
//	go run ./scripts/demo-replicas -dir .demo-replicas -terraform bin/terraform -provider bin/terraform-provider-sluice -runner bin/sluice-runner
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/sluice-data/terraform-provider-sluice/internal/demo"
)

func main() {
	dir := flag.String("dir", ".demo-replicas", "working directory (replaced)")
	tf := flag.String("terraform", "bin/terraform", "terraform binary")
	provider := flag.String("provider", "bin/terraform-provider-sluice", "provider binary")
	runner := flag.String("runner", "bin/sluice-runner", "sluice-runner binary")
	small := flag.Bool("small", false, "produce fewer rows and take the replica away for less time (what the test runs)")
	flag.Parse()
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "demo-replicas:", err)
			os.Exit(1)
		}
		return a
	}
	size := demo.FullSize
	if *small {
		size = demo.SmallSize
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	_, err := demo.RunReplicas(ctx, demo.ReplicasOptions{
		Options: demo.Options{Root: abs("."), Dir: abs(*dir), Terraform: abs(*tf), Provider: abs(*provider), Runner: abs(*runner), Out: os.Stdout},
		Size:    size,
	})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-replicas:", err)
		os.Exit(1)
	}
}
