package dispatch

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/qbridge/qbridge/shared/queue"
)

// HandleSQS is the Lambda handler: the batch's failed messages are
// reported as batchItemFailures (the event source mapping has
// ReportBatchItemFailures on), so only they come back.
func (d *Dispatcher) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	msgs := make([]queue.Message, len(ev.Records))
	for i, rec := range ev.Records {
		msgs[i] = FromSQS(rec)
	}
	var resp events.SQSEventResponse
	for _, id := range d.Process(ctx, msgs) {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	return resp, nil
}

// FromSQS converts a Lambda SQS record into a queue message.
func FromSQS(rec events.SQSMessage) queue.Message {
	m := queue.Message{ID: rec.MessageId, Body: []byte(rec.Body), Receipt: rec.ReceiptHandle}
	if len(rec.MessageAttributes) > 0 {
		m.Attributes = make(map[string]string, len(rec.MessageAttributes))
		for k, v := range rec.MessageAttributes {
			if v.StringValue != nil {
				m.Attributes[k] = *v.StringValue
			}
		}
	}
	m.ReceiveCount, _ = strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	m.SentAt = millis(rec.Attributes["SentTimestamp"])
	m.FirstReceivedAt = millis(rec.Attributes["ApproximateFirstReceiveTimestamp"])
	return m
}

// ToSQS builds the Lambda SQS record the event source mapping would send
// for a received message (for the local runner and tests).
func ToSQS(m queue.Message, queueARN string) events.SQSMessage {
	rec := events.SQSMessage{MessageId: m.ID, ReceiptHandle: m.Receipt, Body: string(m.Body), EventSource: "aws:sqs", EventSourceARN: queueARN,
		AWSRegion: "us-east-1", Attributes: map[string]string{
			"ApproximateReceiveCount":          strconv.Itoa(m.ReceiveCount),
			"SentTimestamp":                    strconv.FormatInt(m.SentAt.UnixMilli(), 10),
			"ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.FirstReceivedAt.UnixMilli(), 10),
		}}
	if len(m.Attributes) > 0 {
		rec.MessageAttributes = map[string]events.SQSMessageAttribute{}
		for k, v := range m.Attributes {
			v := v
			rec.MessageAttributes[k] = events.SQSMessageAttribute{DataType: "String", StringValue: &v}
		}
	}
	return rec
}

func millis(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
