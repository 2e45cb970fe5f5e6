// Command demo runs the worked case end to end on this machine, without AWS (see
// internal/demo). `make demo` builds the binaries and runs it:
//
//	go run ./scripts/demo -dir .demo -terraform bin/terraform -provider bin/terraform-provider-sluice -runner bin/sluice-runner
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
	dir := flag.String("dir", ".demo", "working directory (replaced)")
	tf := flag.String("terraform", "bin/terraform", "terraform binary")
	provider := flag.String("provider", "bin/terraform-provider-sluice", "provider binary")
	runner := flag.String("runner", "bin/sluice-runner", "sluice-runner binary")
	flag.Parse()
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "demo:", err)
			os.Exit(1)
		}
		return a
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	res, err := demo.Run(ctx, demo.Options{Root: abs("."), Dir: abs(*dir), Terraform: abs(*tf), Provider: abs(*provider), Runner: abs(*runner), Out: os.Stdout})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	fmt.Printf("\ndemo: %d runs succeeded (%v); web.page_views has %d rows\n", res.Pipeline.Counts["success"], res.Pipeline.Counts, res.Rows)
}
