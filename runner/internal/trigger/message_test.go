package trigger

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
)

var eventTime = time.Date(2026, 11, 18, 13, 5, 7, 0, time.UTC)

func obj(key string) acctest.S3Object {
	return acctest.S3Object{Bucket: "acme-raw", Key: key, Size: 1024, ETag: "d41d8cd98f00b204e9800998ecf8427e", Sequencer: "0055AED6DCD90281E5", Time: eventTime}
}

func TestParse_TheThreeS3ShapesGiveTheSameEvent(t *testing.T) {
	key := "raw/2026-11-18/13/part 0001.csv" // a space: URL-encoded as '+' in S3 notifications
	want := Event{Kind: KindObject, Bucket: "acme-raw", Key: key, Size: 1024, ETag: "d41d8cd98f00b204e9800998ecf8427e", Sequencer: "0055AED6DCD90281E5", Time: eventTime}
	for shape, body := range map[string]string{
		"s3":          acctest.S3EventNotification(obj(key)),
		"sns+s3":      acctest.SNSEnvelope("arn:aws:sns:us-west-2:123456789012:raw", acctest.S3EventNotification(obj(key))),
		"eventbridge": acctest.EventBridgeObjectCreated(obj(key)),
	} {
		p, err := Parse(body)
		if err != nil {
			t.Fatalf("%s: %v", shape, err)
		}
		if p.Shape != shape || len(p.Events) != 1 || p.Events[0] != want {
			t.Errorf("%s: %+v", shape, p)
		}
		if k := p.Events[0].DedupeKey(); k != "s3:acme-raw/"+key+":0055AED6DCD90281E5" {
			t.Errorf("%s: dedupe key %s", shape, k)
		}
	}
}

func TestParse_SeveralRecordsAndNotifications(t *testing.T) {
	p, err := Parse(acctest.S3EventNotification(obj("a.csv"), obj("b.csv")))
	if err != nil || len(p.Events) != 2 || p.Events[1].Key != "b.csv" {
		t.Fatalf("%+v %v", p, err)
	}
	n := `{"format":"sluice/notification.v1","event":"success","state":"success","pipeline":"a","version":"sha256:x","run_id":7,` +
		`"interval_start":"2026-11-18T00:00:00Z","interval_end":"2026-11-19T00:00:00Z","outputs":{"date":"2026-11-18"},"subject":"s","text":"t"}`
	for shape, body := range map[string]string{"sluice": n, "sns+sluice": acctest.SNSEnvelope("arn:aws:sns:us-west-2:123456789012:done", n)} {
		p, err := Parse(body)
		if err != nil || p.Shape != shape || len(p.Events) != 1 {
			t.Fatalf("%s: %+v %v", shape, p, err)
		}
		e := p.Events[0]
		if e.Kind != KindNotification || e.Notification.Pipeline != "a" || e.Notification.Outputs["date"] != "2026-11-18" ||
			e.DedupeKey() != "sluice:a:7:2026-11-18T00:00:00Z" {
			t.Errorf("%s: %+v %+v", shape, e, e.Notification)
		}
	}
}

func TestParse_NothingToRunIsIgnoredNotMalformed(t *testing.T) {
	removed := strings.Replace(acctest.S3EventNotification(obj("a.csv")), "ObjectCreated:Put", "ObjectRemoved:Delete", 1)
	for body, want := range map[string]string{
		`{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-18T13:00:00.000Z","Bucket":"acme-raw"}`: "test event",
		removed: "ObjectRemoved:Delete",
		strings.Replace(acctest.EventBridgeObjectCreated(obj("a")), "Object Created", "Object Deleted", 1):                                                              "Object Deleted",
		`{"format":"sluice/notification.v1","event":"failure","pipeline":"a","run_id":7,"interval_start":"2026-11-18T00:00:00Z","interval_end":"2026-11-19T00:00:00Z"}`: "only success",
	} {
		p, err := Parse(body)
		if err != nil || !strings.Contains(p.Ignored, want) || len(p.Events) != 0 {
			t.Errorf("%.60s: %+v %v; want ignored for %q", body, p, err, want)
		}
	}
}

func TestParse_MalformedMessagesSayWhy(t *testing.T) {
	good := acctest.S3EventNotification(obj("a.csv"))
	for body, want := range map[string]string{
		"":                          "not a JSON object",
		"<script>alert(1)</script>": "not a JSON object",
		`[1,2]`:                     "not a JSON object",
		`{"hello":"world"}`:         "neither an S3 event notification",
		`{"Records":[]}`:            "without Records",
		`{"Records":[{"eventSource":"aws:sqs"}]}`:                                                                                                                       "not aws:s3",
		strings.Replace(good, `"eventTime":"2026-11-18T13:05:07.000Z"`, `"eventTime":"yesterday"`, 1):                                                                   "eventTime",
		strings.Replace(good, `"key":"a.csv"`, `"key":"a%zz.csv"`, 1):                                                                                                   "not URL-encoded",
		strings.Replace(good, `"name":"acme-raw"`, `"name":""`, 1):                                                                                                      "no bucket or key",
		`{"Type":"Notification","Message":"not json"}`:                                                                                                                  "inside an SNS envelope",
		`{"format":"sluice/notification.v9","event":"success"}`:                                                                                                         "this runner reads sluice/notification.v1",
		`{"format":"sluice/notification.v1","event":"success","pipeline":"a"}`:                                                                                          "without pipeline or run_id",
		`{"format":"sluice/notification.v1","event":"success","pipeline":"a","run_id":1,"interval_start":"x","interval_end":"y"}`:                                       "interval_start",
		`{"format":"sluice/notification.v1","event":"success","pipeline":"a","run_id":1,"interval_start":"2026-11-19T00:00:00Z","interval_end":"2026-11-18T00:00:00Z"}`: "not after",
		`{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification"}`:                                                                                   "not aws.s3",
		`{"source":"aws.s3","detail-type":"Object Created","time":"2026-11-18T00:00:00Z","detail":{"bucket":{"name":"b"}}}`:                                             "without detail",
		`{"Records":[` + strings.Repeat(" ", maxBody) + `]}`:                                                                                                            "over",
	} {
		_, err := Parse(body)
		if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), want) {
			t.Errorf("%.80q: error %v, want a malformed message error containing %q", body, err, want)
		}
	}
}
