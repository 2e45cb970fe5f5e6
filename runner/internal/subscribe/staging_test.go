package subscribe_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// With a staging prefix, every batch of rows is written to S3 (gofakes3 here) as one JSON-lines
// object and loaded from it in the batch's transaction — the path a Redshift replica takes with
// COPY; on PostgreSQL the runner streams the object into COPY … FROM STDIN. The replica ends
// with the last row of every key, and the objects name their shard and sequence range.
func TestSubscriber_RowsLoadThroughTheStagingPrefix(t *testing.T) {
	fake, err := acctest.StartS3(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Stop)
	bucket := fake.NewBucket(t)
	client, err := fake.Client()
	if err != nil {
		t.Fatal(err)
	}

	stream, arn := newStream(t, 2)
	a, b := newReplica(t), newReplica(t)
	for _, url := range []string{a, b} {
		execSQL(t, url, `CREATE TABLE app.latest (k TEXT PRIMARY KEY, n INTEGER NOT NULL, note TEXT)`)
	}
	r := replication("staged", arn, "a", "b")
	r.Records = definition.Records{Format: definition.RecordsRows, Table: "app.latest", InsertMode: definition.InsertOverwriteExisting, KeyColumns: []string{"k"}}
	r.Staging = "s3://" + bucket + "/staging"
	r.Batch.MaxRecords = 40
	dir := publish(t, "", r)
	p := newProducer(t, stream)
	for n := 1; n <= 10; n++ {
		p.round(25, n, func(k string, n int) string {
			// A pretty-printed record and a hostile note: the object is JSON lines all the same.
			return fmt.Sprintf("{\n  \"k\": %q,\n  \"n\": %d,\n  \"note\": \"<script>alert(1)</script>\\n;DROP\"\n}", k, n)
		})
	}
	startService(t, svcOpts{registryDir: dir, conns: map[string]string{"a": a, "b": b}, replicas: []string{"a", "b"}, s3: client})
	for _, url := range []string{a, b} {
		waitFor(t, "every key at its last value on "+url, 60*time.Second, func() bool {
			var keys, atLast, notes int64
			queryRow(t, url, `SELECT COUNT(*), COUNT(*) FILTER (WHERE n = 10), COUNT(*) FILTER (WHERE note = E'<script>alert(1)</script>\n;DROP') FROM app.latest`, &keys, &atLast, &notes)
			return keys == 25 && atLast == 25 && notes == 25
		})
	}
	out, err := client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("staging/staged/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) == 0 {
		t.Fatal("no staged objects under staging/staged/: the rows did not go through the prefix")
	}
	for _, o := range out.Contents {
		key := aws.ToString(o.Key)
		if !strings.HasSuffix(key, ".json") || strings.Count(key, "/") != 4 {
			t.Fatalf("staged object %s: want staging/staged/<replica>/<shard>/<first>-<last>.json", key)
		}
	}
}
