// Package cost holds what sluice knows about AWS prices and the estimates made from them: an
// embedded, dated price table (every entry names the page or API it came from and the date it
// was read), optional override files for negotiated rates, and the estimate functions for
// Kinesis streams, EMR templates and pipelines that the provider shows in the plan and the
// runner records next to what a run really used.
//
// An estimate never guesses: a price the table does not hold makes the estimate unknown, and
// the estimate names every missing price so the user can add it (see Table.Merge).
package cost

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"time"
)

// FormatPrices is the format of price files: the embedded table and override files.
const FormatPrices = "sluice/prices.v1"

// Items: what a price is for. The unit of each is in ItemUnits.
const (
	// KinesisShardHour is one provisioned shard for one hour.
	KinesisShardHour = "kinesis.shard_hour"
	// KinesisPutPayloadUnits is one million PUT payload units (25 KiB chunks of a record).
	KinesisPutPayloadUnits = "kinesis.put_payload_units_million"
	// KinesisExtendedRetentionShardHour is one shard-hour of retention past 24 hours, up to 7
	// days (provisioned mode).
	KinesisExtendedRetentionShardHour = "kinesis.extended_retention_shard_hour"
	// KinesisLongTermRetentionGBMonth is one GB-month of data kept past 7 days (both modes).
	KinesisLongTermRetentionGBMonth = "kinesis.long_term_retention_gb_month"
	// KinesisOnDemandStreamHour is one on-demand stream for one hour.
	KinesisOnDemandStreamHour = "kinesis.on_demand_stream_hour"
	// KinesisOnDemandDataInGB is one GB written to an on-demand stream.
	KinesisOnDemandDataInGB = "kinesis.on_demand_data_in_gb"
	// KinesisOnDemandDataOutGB is one GB read from an on-demand stream.
	KinesisOnDemandDataOutGB = "kinesis.on_demand_data_out_gb"
	// KinesisOnDemandExtendedRetentionGBMonth is one GB-month of data kept past 24 hours, up to
	// 7 days (on-demand mode).
	KinesisOnDemandExtendedRetentionGBMonth = "kinesis.on_demand_extended_retention_gb_month"
	// EMRInstanceHour is EMR's charge for one instance of InstanceType for one hour, on top of EC2.
	EMRInstanceHour = "emr.instance_hour"
	// EC2InstanceHour is EC2's on-demand Linux price of one instance of InstanceType for one hour.
	EC2InstanceHour = "ec2.instance_hour"
)

// ItemUnits maps every item to the unit its price is per.
var ItemUnits = map[string]string{
	KinesisShardHour:                        "shard-hour",
	KinesisPutPayloadUnits:                  "million PUT payload units",
	KinesisExtendedRetentionShardHour:       "shard-hour",
	KinesisLongTermRetentionGBMonth:         "GB-month",
	KinesisOnDemandStreamHour:               "stream-hour",
	KinesisOnDemandDataInGB:                 "GB",
	KinesisOnDemandDataOutGB:                "GB",
	KinesisOnDemandExtendedRetentionGBMonth: "GB-month",
	EMRInstanceHour:                         "instance-hour",
	EC2InstanceHour:                         "instance-hour",
}

// Items lists the items, sorted.
func Items() []string {
	out := make([]string, 0, len(ItemUnits))
	for k := range ItemUnits {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// perInstanceType reports whether an item is priced per instance type.
func perInstanceType(item string) bool { return item == EMRInstanceHour || item == EC2InstanceHour }

// Price is one entry of a price table.
type Price struct {
	Region string `json:"region"`
	Item   string `json:"item"`
	// InstanceType is set for the per-instance-type items (emr.instance_hour, ec2.instance_hour).
	InstanceType string `json:"instance_type,omitempty"`
	// USD is the price of one unit (ItemUnits[Item]) in US dollars.
	USD float64 `json:"usd"`
	// Source is where the price comes from: a pricing page's URL, the Price List API SKU, or
	// for an override the contract it stands for.
	Source string `json:"source"`
	// AsOf is the day the price was read from Source, YYYY-MM-DD.
	AsOf string `json:"as_of"`
}

// Key identifies a price in a table.
type Key struct {
	Region, Item, InstanceType string
}

func (k Key) String() string {
	s := k.Item + " in " + k.Region
	if k.InstanceType != "" {
		s = k.Item + " of " + k.InstanceType + " in " + k.Region
	}
	return s
}

// File is a price file as stored: the embedded table and override files share it.
type File struct {
	Format string  `json:"format"`
	Prices []Price `json:"prices"`
}

// Table is a set of prices, with the files they came from.
type Table struct {
	prices  map[Key]Price
	sources []string
}

//go:embed prices.json
var embedded []byte

// Embedded returns the price table built into this binary.
func Embedded() *Table {
	t, err := Parse(embedded, "the embedded price table")
	if err != nil {
		panic(err) // TestEmbedded_Parses keeps this from happening
	}
	return t
}

// Parse reads a price file; name says where it came from, for errors.
func Parse(data []byte, name string) (*Table, error) {
	var f File
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("price file %s: %w", name, err)
	}
	if f.Format != FormatPrices {
		return nil, fmt.Errorf("price file %s: format is %q, want %q", name, f.Format, FormatPrices)
	}
	t := &Table{prices: map[Key]Price{}, sources: []string{name}}
	for i, p := range f.Prices {
		if err := p.check(); err != nil {
			return nil, fmt.Errorf("price file %s: prices[%d]: %w", name, i, err)
		}
		k := p.Key()
		if _, dup := t.prices[k]; dup {
			return nil, fmt.Errorf("price file %s: prices[%d]: %s is listed twice", name, i, k)
		}
		t.prices[k] = p
	}
	return t, nil
}

// Load reads a price file from disk.
func Load(path string) (*Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading price file: %w", err)
	}
	return Parse(data, path)
}

// Key returns the price's key.
func (p Price) Key() Key { return Key{Region: p.Region, Item: p.Item, InstanceType: p.InstanceType} }

func (p Price) check() error {
	unit, ok := ItemUnits[p.Item]
	switch {
	case !ok:
		return fmt.Errorf("item %q is not one of %s", p.Item, strings.Join(Items(), ", "))
	case strings.TrimSpace(p.Region) == "":
		return fmt.Errorf("%s: region is required", p.Item)
	case perInstanceType(p.Item) && p.InstanceType == "":
		return fmt.Errorf("%s in %s: instance_type is required", p.Item, p.Region)
	case !perInstanceType(p.Item) && p.InstanceType != "":
		return fmt.Errorf("%s in %s: instance_type %q is not allowed: the price is per %s", p.Item, p.Region, p.InstanceType, unit)
	case math.IsNaN(p.USD) || math.IsInf(p.USD, 0) || p.USD < 0:
		return fmt.Errorf("%s: usd must be a number ≥ 0, got %v", p.Key(), p.USD)
	case strings.TrimSpace(p.Source) == "":
		return fmt.Errorf("%s: source is required: say where the price comes from (a pricing page, the Price List API, a contract)", p.Key())
	}
	if _, err := time.Parse(time.DateOnly, p.AsOf); err != nil {
		return fmt.Errorf("%s: as_of %q is not a date YYYY-MM-DD", p.Key(), p.AsOf)
	}
	return nil
}

// Merge returns a table with t's prices, replaced and extended by over's: negotiated rates
// over list prices.
func (t *Table) Merge(over *Table) *Table {
	out := &Table{prices: make(map[Key]Price, len(t.prices)+len(over.prices))}
	for k, p := range t.prices {
		out.prices[k] = p
	}
	for k, p := range over.prices {
		out.prices[k] = p
	}
	out.sources = append(append([]string{}, t.sources...), over.sources...)
	return out
}

// Lookup returns the price of k.
func (t *Table) Lookup(k Key) (Price, bool) {
	p, ok := t.prices[k]
	return p, ok
}

// Prices returns every price, sorted by region, item and instance type.
func (t *Table) Prices() []Price {
	out := make([]Price, 0, len(t.prices))
	for _, p := range t.prices {
		out = append(out, p)
	}
	SortPrices(out)
	return out
}

// SortPrices sorts prices by region, item and instance type: the order files are written in.
func SortPrices(ps []Price) {
	sort.Slice(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Region != b.Region {
			return a.Region < b.Region
		}
		if a.Item != b.Item {
			return a.Item < b.Item
		}
		return a.InstanceType < b.InstanceType
	})
}

// Sources says which files the table was built from.
func (t *Table) Sources() string { return strings.Join(t.sources, " + ") }

// Encode writes prices as a price file, sorted, one entry per line group.
func Encode(ps []Price) ([]byte, error) {
	ps = append([]Price{}, ps...)
	SortPrices(ps)
	for _, p := range ps {
		if err := p.check(); err != nil {
			return nil, err
		}
	}
	data, err := json.MarshalIndent(File{Format: FormatPrices, Prices: ps}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding prices: %w", err)
	}
	return append(data, '\n'), nil
}

// ErrNoRegion is returned by estimates made without a region.
var ErrNoRegion = errors.New("no AWS region, and prices are per region: set the provider's region (sluice-runner: --region), or AWS_REGION")
