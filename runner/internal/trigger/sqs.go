package trigger

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSAPI is the part of the SQS client a queue uses (*sqs.Client satisfies it).
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// SQS is a queue on SQS.
type SQS struct {
	API SQSAPI
	URL string
	// single is set once ChangeMessageVisibilityBatch failed as a whole: some SQS stand-ins
	// (goaws 0.5) do not have it, and one call per message does the same.
	single atomic.Bool
}

var _ Queue = (*SQS)(nil)

// Receive implements Queue.
func (s *SQS) Receive(ctx context.Context, maxN int, wait, visibility time.Duration) ([]Message, error) {
	out, err := s.API.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(s.URL),
		MaxNumberOfMessages:         int32(min(maxN, 10)),
		WaitTimeSeconds:             int32(min(wait, longPoll) / time.Second),
		VisibilityTimeout:           int32(visibility / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		return nil, fmt.Errorf("receiving from %s: %w", s.URL, err)
	}
	msgs := make([]Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		n, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
		msgs = append(msgs, Message{ID: aws.ToString(m.MessageId), Receipt: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body), Receives: n})
	}
	return msgs, nil
}

// Delete implements Queue, ten messages a call (SQS's batch limit).
func (s *SQS) Delete(ctx context.Context, msgs []Message) error {
	var errs []error
	for from := 0; from < len(msgs); from += 10 {
		chunk := msgs[from:min(from+10, len(msgs))]
		entries := make([]types.DeleteMessageBatchRequestEntry, len(chunk))
		for i, m := range chunk {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.Receipt)}
		}
		out, err := s.API.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(s.URL), Entries: entries})
		if err != nil {
			errs = append(errs, fmt.Errorf("deleting %d messages from %s: %w", len(chunk), s.URL, err))
			continue
		}
		for _, f := range out.Failed {
			errs = append(errs, fmt.Errorf("deleting a message from %s: %s: %s", s.URL, aws.ToString(f.Code), aws.ToString(f.Message)))
		}
	}
	return errors.Join(errs...)
}

// Extend implements Queue.
func (s *SQS) Extend(ctx context.Context, msgs []Message, d time.Duration) error {
	if s.single.Load() {
		return s.extendEach(ctx, msgs, d)
	}
	var errs []error
	for from := 0; from < len(msgs); from += 10 {
		chunk := msgs[from:min(from+10, len(msgs))]
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(chunk))
		for i, m := range chunk {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.Receipt),
				VisibilityTimeout: int32(d / time.Second)}
		}
		out, err := s.API.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(s.URL), Entries: entries})
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			s.single.Store(true)
			return s.extendEach(ctx, msgs[from:], d)
		}
		for _, f := range out.Failed {
			errs = append(errs, fmt.Errorf("extending the visibility of a message of %s: %s: %s", s.URL, aws.ToString(f.Code), aws.ToString(f.Message)))
		}
	}
	return errors.Join(errs...)
}

func (s *SQS) extendEach(ctx context.Context, msgs []Message, d time.Duration) error {
	var errs []error
	for _, m := range msgs {
		if _, err := s.API.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(s.URL),
			ReceiptHandle: aws.String(m.Receipt), VisibilityTimeout: int32(d / time.Second)}); err != nil {
			errs = append(errs, fmt.Errorf("extending the visibility of message %s of %s: %w", m.ID, s.URL, err))
		}
	}
	return errors.Join(errs...)
}
