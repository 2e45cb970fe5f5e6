package pricelist

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/pricing"

	"github.com/sluice-data/terraform-provider-sluice/internal/cost"
)

// fakePriceList is a TEST-ONLY stand-in for the AWS Price List API: it speaks GetProducts'
// JSON 1.1 protocol (POST /, X-Amz-Target: AWSPriceListService.GetProducts) over a fixed set of
// products, applies TERM_MATCH filters to their attributes and pages two products at a time, so
// the client's pagination is exercised.
type fakePriceList struct {
	products map[string][]map[string]any // service code -> products
	mu       sync.Mutex
	calls    int
	deny     bool
}

func (f *fakePriceList) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if r.Header.Get("X-Amz-Target") != "AWSPriceListService.GetProducts" || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256") {
		http.Error(w, "unexpected request", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if f.deny {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"AccessDeniedException","message":"User is not authorized to perform: pricing:GetProducts"}`)
		return
	}
	var in struct {
		ServiceCode string
		Filters     []struct{ Type, Field, Value string }
		NextToken   string
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var matched []string
	for _, p := range f.products[in.ServiceCode] {
		attrs := p["product"].(map[string]any)["attributes"].(map[string]any)
		ok := true
		for _, flt := range in.Filters {
			if flt.Type != "TERM_MATCH" || attrs[flt.Field] != flt.Value {
				ok = false
			}
		}
		if ok {
			doc, _ := json.Marshal(p)
			matched = append(matched, string(doc))
		}
	}
	start, _ := strconv.Atoi(in.NextToken)
	end := min(start+2, len(matched))
	out := map[string]any{"FormatVersion": "aws_v1", "PriceList": matched[start:end]}
	if end < len(matched) {
		out["NextToken"] = strconv.Itoa(end)
	}
	_ = json.NewEncoder(w).Encode(out)
}

// productDoc builds a price list document as GetProducts returns it.
func productDoc(sku string, attrs map[string]any, unit, usd string) map[string]any {
	return map[string]any{
		"product":         map[string]any{"sku": sku, "productFamily": "x", "attributes": attrs},
		"serviceCode":     "x",
		"publicationDate": "2026-11-30T12:00:00Z",
		"terms": map[string]any{"OnDemand": map[string]any{sku + ".JRTCKXETXF": map[string]any{
			"sku": sku, "effectiveDate": "2026-11-01T00:00:00Z", "offerTermCode": "JRTCKXETXF",
			"priceDimensions": map[string]any{sku + ".JRTCKXETXF.6YS6EN2CT7": map[string]any{
				"unit": unit, "beginRange": "0", "endRange": "Inf", "description": "test price",
				"pricePerUnit": map[string]any{"USD": usd},
			}},
		}}},
	}
}

func kinesisProducts(region, prefix string) []map[string]any {
	a := func(usage string) map[string]any {
		return map[string]any{"regionCode": region, "usagetype": prefix + usage}
	}
	return []map[string]any{
		productDoc("K1"+region, a("Storage-ShardHour"), "ShardHour", "0.0150000000"),
		productDoc("K2"+region, a("PutRequestPayloadUnits"), "PutPayloadUnits", "0.0000000140"),
		productDoc("K3"+region, a("Extended-ShardHour"), "ShardHour", "0.0200000000"),
		productDoc("K4"+region, a("LongTermRetention-ByteHrs"), "GB-Mo", "0.0230000000"),
		productDoc("K5"+region, a("OnDemand-StreamHour"), "StreamHour", "0.0400000000"),
		productDoc("K6"+region, a("OnDemand-BilledIncomingBytes"), "GB", "0.0800000000"),
		productDoc("K7"+region, a("OnDemand-BilledOutgoingBytes"), "GB", "0.0400000000"),
		// eu-west-1 lacks on-demand extended retention in this fixture: reported missing.
	}
}

func newFake() *fakePriceList {
	ec2 := func(sku, region, it, usd string) map[string]any {
		return productDoc(sku, map[string]any{"regionCode": region, "instanceType": it, "operatingSystem": "Linux", "tenancy": "Shared",
			"preInstalledSw": "NA", "capacitystatus": "Used", "licenseModel": "No License required"}, "Hrs", usd)
	}
	emr := func(sku, region, it, usd string) map[string]any {
		return productDoc(sku, map[string]any{"regionCode": region, "instanceType": it, "softwareType": "EMR"}, "Hrs", usd)
	}
	us := append(kinesisProducts("us-east-1", ""),
		productDoc("KX", map[string]any{"regionCode": "us-east-1", "usagetype": "OnDemand-ExtendedRetention-ByteHrs"}, "GB-Mo", "0.1000000000"))
	return &fakePriceList{products: map[string][]map[string]any{
		ServiceKinesis: append(us, kinesisProducts("eu-west-1", "EU-")...),
		ServiceEC2: {
			ec2("E1", "us-east-1", "m5.xlarge", "0.1920000000"), ec2("E2", "eu-west-1", "m5.xlarge", "0.2140000000"),
			// A Windows product of the same type must not be taken.
			productDoc("E3", map[string]any{"regionCode": "us-east-1", "instanceType": "m5.xlarge", "operatingSystem": "Windows", "tenancy": "Shared",
				"preInstalledSw": "NA", "capacitystatus": "Used", "licenseModel": "No License required"}, "Hrs", "0.3760000000"),
		},
		ServiceEMR: {emr("M1", "us-east-1", "m5.xlarge", "0.0480000000"), emr("M2", "eu-west-1", "m5.xlarge", "0.0480000000")},
	}}
}

func client(t *testing.T, url string) *pricing.Client {
	t.Helper()
	return pricing.New(pricing.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryMaxAttempts: 1,
	})
}

func TestFetch_ReadsEveryPriceThroughTheAPI(t *testing.T) {
	fake := newFake()
	srv := httptest.NewServer(fake)
	defer srv.Close()
	res, err := Fetch(context.Background(), client(t, srv.URL), Request{
		Regions: []string{"us-east-1", "eu-west-1"}, InstanceTypes: []string{"m5.xlarge", "x9.nano"},
		Now: time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := cost.Parse(mustEncode(t, res.Prices), "fetched")
	if err != nil {
		t.Fatalf("fetched prices do not make a valid table: %v", err)
	}
	for k, want := range map[cost.Key]float64{
		{Region: "us-east-1", Item: cost.KinesisShardHour}:                           0.015,
		{Region: "us-east-1", Item: cost.KinesisPutPayloadUnits}:                     0.014,
		{Region: "us-east-1", Item: cost.KinesisOnDemandExtendedRetentionGBMonth}:    0.10,
		{Region: "eu-west-1", Item: cost.KinesisLongTermRetentionGBMonth}:            0.023,
		{Region: "us-east-1", Item: cost.EC2InstanceHour, InstanceType: "m5.xlarge"}: 0.192,
		{Region: "eu-west-1", Item: cost.EC2InstanceHour, InstanceType: "m5.xlarge"}: 0.214,
		{Region: "eu-west-1", Item: cost.EMRInstanceHour, InstanceType: "m5.xlarge"}: 0.048,
	} {
		p, ok := tbl.Lookup(k)
		if !ok || p.USD != want {
			t.Errorf("%s = %v (found %v), want %v", k, p.USD, ok, want)
		}
		if ok && (p.AsOf != "2026-12-06" || !strings.Contains(p.Source, "published 2026-11-30") || !strings.Contains(p.Source, "SKU")) {
			t.Errorf("%s: as_of %q, source %q", k, p.AsOf, p.Source)
		}
	}
	var missing []string
	for _, k := range res.Missing {
		missing = append(missing, k.String())
	}
	want := []string{
		"ec2.instance_hour of x9.nano in eu-west-1", "ec2.instance_hour of x9.nano in us-east-1",
		"emr.instance_hour of x9.nano in eu-west-1", "emr.instance_hour of x9.nano in us-east-1",
		"kinesis.on_demand_extended_retention_gb_month in eu-west-1",
	}
	if fmt.Sprint(missing) != fmt.Sprint(want) {
		t.Errorf("missing %v, want %v", missing, want)
	}
}

func TestFetch_APIErrorIsReported(t *testing.T) {
	fake := newFake()
	fake.deny = true
	srv := httptest.NewServer(fake)
	defer srv.Close()
	_, err := Fetch(context.Background(), client(t, srv.URL), Request{Regions: []string{"us-east-1"}})
	if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") || !strings.Contains(err.Error(), "AmazonKinesis") {
		t.Fatalf("error %v, want the API's error naming the service", err)
	}
}

func mustEncode(t *testing.T, ps []cost.Price) []byte {
	t.Helper()
	data, err := cost.Encode(ps)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
