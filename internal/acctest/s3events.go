package acctest

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"
)

// gofakes3 does not emit S3 event notifications, so tests of triggers put on the queue the exact
// JSON S3 sends. The shapes below are AWS's documented examples ("Event message structure" in
// the S3 user guide, and "Object Created" in the EventBridge section), with only the bucket,
// key, size, ETag, sequencer and time filled in.

// S3Object is what an S3 event says about one object.
type S3Object struct {
	Bucket    string
	Key       string
	Size      int64
	ETag      string
	Sequencer string
	Time      time.Time
}

// S3EventNotification returns an S3 event notification (eventVersion 2.1) with one
// ObjectCreated:Put record per object. Keys are URL-encoded as S3 does (a space becomes '+').
func S3EventNotification(objs ...S3Object) string {
	recs := make([]map[string]any, len(objs))
	for i, o := range objs {
		recs[i] = map[string]any{
			"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-west-2",
			"eventTime": o.Time.UTC().Format("2006-01-02T15:04:05.000Z"), "eventName": "ObjectCreated:Put",
			"userIdentity":      map[string]any{"principalId": "AIDAJDPLRKLG7UEXAMPLE"},
			"requestParameters": map[string]any{"sourceIPAddress": "127.0.0.1"},
			"responseElements": map[string]any{"x-amz-request-id": "C3D13FE58DE4C810",
				"x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
			"s3": map[string]any{
				"s3SchemaVersion": "1.0", "configurationId": "testConfigRule",
				"bucket": map[string]any{"name": o.Bucket, "ownerIdentity": map[string]any{"principalId": "A3NL1KOZZKExample"},
					"arn": "arn:aws:s3:::" + o.Bucket},
				"object": map[string]any{"key": s3EscapeKey(o.Key), "size": o.Size, "eTag": o.ETag,
					"versionId": "096fKKXTRTtl3on89fVO.nfljtsv6qko", "sequencer": o.Sequencer},
			},
		}
	}
	return mustJSON(map[string]any{"Records": recs})
}

// s3EscapeKey URL-encodes a key as S3 event notifications do: "/" kept, a space as "+".
func s3EscapeKey(k string) string {
	parts := strings.Split(k, "/")
	for i, p := range parts {
		parts[i] = url.QueryEscape(p)
	}
	return strings.Join(parts, "/")
}

// EventBridgeObjectCreated returns EventBridge's S3 "Object Created" event for one object (keys
// are not URL-encoded there).
func EventBridgeObjectCreated(o S3Object) string {
	return mustJSON(map[string]any{
		"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created", "source": "aws.s3",
		"account": "111122223333", "time": o.Time.UTC().Format(time.RFC3339), "region": "ca-central-1",
		"resources": []string{"arn:aws:s3:::" + o.Bucket},
		"detail": map[string]any{
			"version": "0", "bucket": map[string]any{"name": o.Bucket},
			"object": map[string]any{"key": o.Key, "size": o.Size, "etag": o.ETag, "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
				"sequencer": o.Sequencer},
			"request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012", "source-ip-address": "1.2.3.4", "reason": "PutObject",
		},
	})
}

// SNSEnvelope wraps a message as SNS delivers it to a non-raw SQS subscription.
func SNSEnvelope(topicARN, message string) string {
	return mustJSON(map[string]any{
		"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", "TopicArn": topicARN,
		"Subject": "Amazon S3 Notification", "Message": message, "Timestamp": "2026-11-18T13:00:00.000Z",
		"SignatureVersion": "1", "Signature": "EXAMPLE", "SigningCertURL": "EXAMPLE", "UnsubscribeURL": "EXAMPLE",
	})
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
