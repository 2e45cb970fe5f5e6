// Command prices refreshes sluice's embedded price table from the AWS Price List API
// (pricing:GetProducts; needs AWS credentials allowed pricing:GetProducts). `make prices` runs:
//
//	go run ./scripts/prices -table internal/cost/prices.json
//
// It fetches the Kinesis prices of every region in the table (or -regions) and the EC2 and EMR
// prices of every instance type in it (or -instance-types), replaces those entries, keeps the
// others, and lists what the API did not return. -endpoint points it at another endpoint.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/pricing"

	"github.com/sluice-data/terraform-provider-sluice/internal/cost"
	"github.com/sluice-data/terraform-provider-sluice/internal/cost/pricelist"
)

func main() {
	table := flag.String("table", "internal/cost/prices.json", "price file to refresh in place")
	regions := flag.String("regions", "", "comma-separated regions; empty: the regions in the table")
	types := flag.String("instance-types", "", "comma-separated EC2 instance types; empty: the types in the table")
	endpoint := flag.String("endpoint", "", "Price List API endpoint URL; empty: the AWS default (us-east-1)")
	flag.Parse()
	if err := run(context.Background(), *table, split(*regions), split(*types), *endpoint); err != nil {
		fmt.Fprintln(os.Stderr, "prices:", err)
		os.Exit(1)
	}
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func run(ctx context.Context, path string, regions, types []string, endpoint string) error {
	current, err := cost.Load(path)
	if err != nil {
		return err
	}
	if len(regions) == 0 || len(types) == 0 {
		rs, ts := map[string]bool{}, map[string]bool{}
		for _, p := range current.Prices() {
			rs[p.Region] = true
			if p.InstanceType != "" {
				ts[p.InstanceType] = true
			}
		}
		if len(regions) == 0 {
			regions = keys(rs)
		}
		if len(types) == 0 {
			types = keys(ts)
		}
	}
	// The Price List API answers in us-east-1 (and a few other regions), whatever region is priced.
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	if err != nil {
		return fmt.Errorf("AWS configuration: %w", err)
	}
	client := pricing.NewFromConfig(cfg, func(o *pricing.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	res, err := pricelist.Fetch(ctx, client, pricelist.Request{Regions: regions, InstanceTypes: types})
	if err != nil {
		return err
	}
	merged := map[cost.Key]cost.Price{}
	for _, p := range current.Prices() {
		merged[p.Key()] = p
	}
	for _, p := range res.Prices {
		merged[p.Key()] = p
	}
	all := make([]cost.Price, 0, len(merged))
	for _, p := range merged {
		all = append(all, p)
	}
	data, err := cost.Encode(all)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	fmt.Printf("prices: %d prices refreshed in %s (%d regions, %d instance types)\n", len(res.Prices), path, len(regions), len(types))
	for _, k := range res.Missing {
		fmt.Printf("prices: not returned by the API, kept as it was: %s\n", k)
	}
	return nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
