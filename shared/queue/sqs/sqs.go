// Package sqs implements the queue port on Amazon SQS (standard queues), and
// on fauxqs, its local stand-in.
package sqs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/qbridge/qbridge/shared/queue"
	"github.com/qbridge/qbridge/shared/wait"
)

// API is the part of the SQS client the queue uses.
type API interface {
	GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	ChangeMessageVisibilityBatch(context.Context, *sqs.ChangeMessageVisibilityBatchInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

// Queue is one SQS queue.
type Queue struct {
	api API
	url string
}

var _ queue.Queue = (*Queue)(nil)

// New returns the queue at url.
func New(api API, url string) *Queue { return &Queue{api: api, url: url} }

// sendAttempts bounds retries of entries SQS failed to take.
const sendAttempts = 5

// Send implements queue.Queue.
func (q *Queue) Send(ctx context.Context, msgs []queue.Outgoing) error {
	if err := queue.Check(msgs); err != nil {
		return err
	}
	for _, batch := range queue.Batches(msgs) {
		if err := q.sendBatch(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

func (q *Queue) sendBatch(ctx context.Context, batch []queue.Outgoing) error {
	pending := make(map[string]queue.Outgoing, len(batch))
	for i, m := range batch {
		pending[strconv.Itoa(i)] = m
	}
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > 0 {
			if attempt == sendAttempts {
				return fmt.Errorf("sqs: %d messages not accepted after %d attempts", len(pending), sendAttempts)
			}
			if err := wait.Sleep(ctx, time.Duration(50<<attempt)*time.Millisecond); err != nil {
				return err
			}
		}
		entries := make([]types.SendMessageBatchRequestEntry, 0, len(pending))
		for id, m := range pending {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(string(m.Body)),
				MessageAttributes: attributesOut(m.Attributes), DelaySeconds: delaySeconds(m.Delay)})
		}
		out, err := q.api.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &q.url, Entries: entries})
		if err != nil {
			return err
		}
		for _, ok := range out.Successful {
			delete(pending, aws.ToString(ok.Id))
		}
		for _, f := range out.Failed {
			if f.SenderFault {
				return fmt.Errorf("sqs refused a message: %s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
			}
		}
	}
	return nil
}

func delaySeconds(d time.Duration) int32 {
	return int32(min(queue.MaxDelay, max(0, d)) / time.Second)
}

func attributesOut(attrs map[string]string) map[string]types.MessageAttributeValue {
	if len(attrs) == 0 {
		return nil
	}
	out := make(map[string]types.MessageAttributeValue, len(attrs))
	for k, v := range attrs {
		out[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	return out
}

// Receive implements queue.Queue.
func (q *Queue) Receive(ctx context.Context, max int, wait time.Duration) ([]queue.Message, error) {
	return q.receive(ctx, max, wait, nil)
}

func (q *Queue) receive(ctx context.Context, max int, wait time.Duration, visibility *int32) ([]queue.Message, error) {
	var msgs []queue.Message
	for len(msgs) < max {
		out, err := q.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:              &q.url,
			MaxNumberOfMessages:   int32(min(max-len(msgs), 10)),
			WaitTimeSeconds:       int32(wait / time.Second),
			VisibilityTimeout:     aws.ToInt32(visibility),
			MessageAttributeNames: []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{
				types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameSentTimestamp,
				types.MessageSystemAttributeNameApproximateFirstReceiveTimestamp,
			},
		})
		if err != nil {
			return msgs, err
		}
		for _, m := range out.Messages {
			msgs = append(msgs, messageIn(m))
		}
		if len(out.Messages) < 10 {
			break
		}
		wait = 0 // only the first call waits
	}
	return msgs, nil
}

func messageIn(m types.Message) queue.Message {
	msg := queue.Message{ID: aws.ToString(m.MessageId), Body: []byte(aws.ToString(m.Body)), Receipt: aws.ToString(m.ReceiptHandle)}
	if len(m.MessageAttributes) > 0 {
		msg.Attributes = make(map[string]string, len(m.MessageAttributes))
		for k, v := range m.MessageAttributes {
			msg.Attributes[k] = aws.ToString(v.StringValue)
		}
	}
	msg.ReceiveCount, _ = strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	msg.SentAt = millis(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)])
	msg.FirstReceivedAt = millis(m.Attributes[string(types.MessageSystemAttributeNameApproximateFirstReceiveTimestamp)])
	return msg
}

func millis(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// Delete implements queue.Queue.
func (q *Queue) Delete(ctx context.Context, receipts []string) error {
	for start := 0; start < len(receipts); start += 10 {
		var entries []types.DeleteMessageBatchRequestEntry
		for i, r := range receipts[start:min(start+10, len(receipts))] {
			entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(r)})
		}
		out, err := q.api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &q.url, Entries: entries})
		if err != nil {
			return err
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("sqs: %d deletes failed: %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
		}
	}
	return nil
}

// ChangeVisibility implements queue.Queue.
func (q *Queue) ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error {
	_, err := q.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &q.url, ReceiptHandle: &receipt, VisibilityTimeout: int32(d / time.Second)})
	return err
}

func (q *Queue) release(ctx context.Context, msgs []queue.Message) error {
	var errs []error
	for start := 0; start < len(msgs); start += 10 {
		var entries []types.ChangeMessageVisibilityBatchRequestEntry
		for i, m := range msgs[start:min(start+10, len(msgs))] {
			entries = append(entries, types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.Receipt)})
		}
		if _, err := q.api.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &q.url, Entries: entries}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Depth returns the approximate number of visible messages, and of those in
// flight or delayed.
func (q *Queue) Depth(ctx context.Context) (visible, inFlight int, err error) {
	out, err := q.api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &q.url, AttributeNames: []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		types.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		return 0, 0, err
	}
	visible, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	delayed, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesDelayed)])
	return visible, inFlight + delayed, nil
}
