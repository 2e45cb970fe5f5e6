// Package pricelist reads list prices from the AWS Price List API (pricing:GetProducts) into
// entries of sluice's price table: what `make prices` runs to refresh internal/cost/prices.json.
package pricelist

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	"github.com/aws/aws-sdk-go-v2/service/pricing/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/cost"
)

// API is the part of *pricing.Client the fetch uses.
type API interface {
	GetProducts(ctx context.Context, in *pricing.GetProductsInput, optFns ...func(*pricing.Options)) (*pricing.GetProductsOutput, error)
}

var _ API = (*pricing.Client)(nil)

// Service codes of the Price List API.
const (
	ServiceKinesis = "AmazonKinesis"
	ServiceEC2     = "AmazonEC2"
	ServiceEMR     = "ElasticMapReduce"
)

// kinesisUsage maps the end of a Kinesis product's usagetype (after the region prefix, e.g.
// "USE1-" or "EU-") to the price table's item, and says by how much the API's unit price is
// multiplied to get the item's unit (PUT payload units are listed per unit, the table holds them
// per million).
var kinesisUsage = map[string]struct {
	item   string
	factor float64
}{
	"Storage-ShardHour":                  {cost.KinesisShardHour, 1},
	"PutRequestPayloadUnits":             {cost.KinesisPutPayloadUnits, 1e6},
	"Extended-ShardHour":                 {cost.KinesisExtendedRetentionShardHour, 1},
	"LongTermRetention-ByteHrs":          {cost.KinesisLongTermRetentionGBMonth, 1},
	"OnDemand-StreamHour":                {cost.KinesisOnDemandStreamHour, 1},
	"OnDemand-BilledIncomingBytes":       {cost.KinesisOnDemandDataInGB, 1},
	"OnDemand-BilledOutgoingBytes":       {cost.KinesisOnDemandDataOutGB, 1},
	"OnDemand-ExtendedRetention-ByteHrs": {cost.KinesisOnDemandExtendedRetentionGBMonth, 1},
}

// Request says what to fetch.
type Request struct {
	Regions       []string
	InstanceTypes []string
	// Now is the day the prices are read (as_of); zero means time.Now.
	Now time.Time
}

// Result is what a fetch found, and what it looked for and did not find.
type Result struct {
	Prices []cost.Price
	// Missing names every price asked for that the API did not return, e.g. a usage type the
	// mapping does not know in a region: the table keeps its old entry, and `make prices` says so.
	Missing []cost.Key
}

// product is one entry of GetProducts' PriceList (a JSON document per product).
type product struct {
	Product struct {
		SKU        string            `json:"sku"`
		Attributes map[string]string `json:"attributes"`
	} `json:"product"`
	PublicationDate string `json:"publicationDate"`
	Terms           struct {
		OnDemand map[string]struct {
			PriceDimensions map[string]struct {
				Unit         string            `json:"unit"`
				BeginRange   string            `json:"beginRange"`
				PricePerUnit map[string]string `json:"pricePerUnit"`
			} `json:"priceDimensions"`
		} `json:"OnDemand"`
	} `json:"terms"`
}

// usd is the product's on-demand price of the first tier (beginRange 0), in US dollars.
func (p *product) usd() (float64, bool) {
	for _, term := range p.Terms.OnDemand {
		for _, d := range term.PriceDimensions {
			if d.BeginRange != "" && d.BeginRange != "0" {
				continue
			}
			s, ok := d.PricePerUnit["USD"]
			if !ok {
				continue
			}
			v, err := strconv.ParseFloat(s, 64)
			if err == nil {
				return v, true
			}
		}
	}
	return 0, false
}

func (p *product) source(service string) string {
	pub := p.PublicationDate
	if t, err := time.Parse(time.RFC3339, pub); err == nil {
		pub = t.UTC().Format(time.DateOnly)
	}
	return fmt.Sprintf("AWS Price List API: pricing:GetProducts %s SKU %s, published %s", service, p.Product.SKU, pub)
}

// products returns every product of service that matches the TERM_MATCH filters, all pages.
func products(ctx context.Context, api API, service string, filters map[string]string) ([]product, error) {
	in := &pricing.GetProductsInput{ServiceCode: aws.String(service), FormatVersion: aws.String("aws_v1")}
	keys := make([]string, 0, len(filters))
	for k := range filters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		in.Filters = append(in.Filters, types.Filter{Type: types.FilterTypeTermMatch, Field: aws.String(k), Value: aws.String(filters[k])})
	}
	var out []product
	p := pricing.NewGetProductsPaginator(api, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("pricing:GetProducts %s %v: %w", service, filters, err)
		}
		for i, doc := range page.PriceList {
			var pr product
			if err := json.Unmarshal([]byte(doc), &pr); err != nil {
				return nil, fmt.Errorf("pricing:GetProducts %s %v: product %d is not a price list document: %w", service, filters, i, err)
			}
			out = append(out, pr)
		}
	}
	return out, nil
}

// Fetch reads the Kinesis prices of every region, and the EC2 on-demand (Linux, shared tenancy)
// and EMR prices of every instance type in every region.
func Fetch(ctx context.Context, api API, req Request) (*Result, error) {
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	asOf := now.UTC().Format(time.DateOnly)
	res := &Result{}
	for _, region := range req.Regions {
		prods, err := products(ctx, api, ServiceKinesis, map[string]string{"regionCode": region})
		if err != nil {
			return nil, err
		}
		found := map[string]bool{}
		for i := range prods {
			pr := &prods[i]
			usage := pr.Product.Attributes["usagetype"]
			for suffix, m := range kinesisUsage {
				if usage != suffix && !strings.HasSuffix(usage, "-"+suffix) {
					continue
				}
				v, ok := pr.usd()
				if !ok || found[m.item] {
					continue
				}
				found[m.item] = true
				res.Prices = append(res.Prices, cost.Price{Region: region, Item: m.item, USD: round(v * m.factor), Source: pr.source(ServiceKinesis), AsOf: asOf})
			}
		}
		for _, m := range kinesisUsage {
			if !found[m.item] {
				res.Missing = append(res.Missing, cost.Key{Region: region, Item: m.item})
			}
		}
		for _, it := range req.InstanceTypes {
			for _, q := range []struct {
				service, item string
				filters       map[string]string
			}{
				{ServiceEC2, cost.EC2InstanceHour, map[string]string{"regionCode": region, "instanceType": it, "operatingSystem": "Linux",
					"tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used", "licenseModel": "No License required"}},
				{ServiceEMR, cost.EMRInstanceHour, map[string]string{"regionCode": region, "instanceType": it, "softwareType": "EMR"}},
			} {
				prods, err := products(ctx, api, q.service, q.filters)
				if err != nil {
					return nil, err
				}
				k := cost.Key{Region: region, Item: q.item, InstanceType: it}
				price, ok := onePrice(prods, q.service, k, asOf)
				if !ok {
					res.Missing = append(res.Missing, k)
					continue
				}
				res.Prices = append(res.Prices, price)
			}
		}
	}
	cost.SortPrices(res.Prices)
	sort.Slice(res.Missing, func(i, j int) bool { return res.Missing[i].String() < res.Missing[j].String() })
	return res, nil
}

// onePrice is the price of the first product with an on-demand price.
func onePrice(prods []product, service string, k cost.Key, asOf string) (cost.Price, bool) {
	sort.Slice(prods, func(i, j int) bool { return prods[i].Product.SKU < prods[j].Product.SKU })
	for i := range prods {
		if v, ok := prods[i].usd(); ok {
			return cost.Price{Region: k.Region, Item: k.Item, InstanceType: k.InstanceType, USD: round(v), Source: prods[i].source(service), AsOf: asOf}, true
		}
	}
	return cost.Price{}, false
}

// round drops the float noise of a multiplied price (0.000000014 × 1e6) at ten decimals, the
// precision the API lists prices in.
func round(v float64) float64 {
	s := strconv.FormatFloat(v, 'f', 10, 64)
	r, _ := strconv.ParseFloat(s, 64)
	return r
}
