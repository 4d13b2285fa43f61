// Package obs measures what qbridge spends: an AWS SDK middleware that
// counts billable requests per service and operation and the DynamoDB
// capacity they consumed, a cost model with the published prices, EMF
// metrics and structured logging.
package obs

import (
	"context"
	"errors"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"
)

// Meter counts AWS requests. It is safe for concurrent use.
type Meter struct {
	mu    sync.Mutex
	usage Usage
}

// Usage is what a Meter counted.
type Usage struct {
	Requests map[string]int64 // "Service.Operation" → API calls
	// SQSBillable counts SQS requests as billed: every 64 KB of a send's
	// payload is one request.
	SQSBillable int64
	// ReadUnits and WriteUnits are DynamoDB capacity units consumed; a failed
	// conditional write is billed too and counted as one write unit (our
	// items are under 1 KB).
	ReadUnits, WriteUnits float64
	ConditionalFailures   int64
}

// Total returns the number of calls to a service ("DynamoDB", "SQS", ...).
func (u Usage) Total(service string) int64 {
	var n int64
	for k, v := range u.Requests {
		if len(k) > len(service) && k[:len(service)] == service && k[len(service)] == '.' {
			n += v
		}
	}
	return n
}

// Snapshot returns a copy of the counts so far.
func (m *Meter) Snapshot() Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.usage
	u.Requests = make(map[string]int64, len(m.usage.Requests))
	for k, v := range m.usage.Requests {
		u.Requests[k] = v
	}
	return u
}

// Reset zeroes the counts.
func (m *Meter) Reset() {
	m.mu.Lock()
	m.usage = Usage{}
	m.mu.Unlock()
}

// Sub returns u minus earlier: what happened between two snapshots.
func (u Usage) Sub(earlier Usage) Usage {
	d := Usage{Requests: map[string]int64{}, SQSBillable: u.SQSBillable - earlier.SQSBillable,
		ReadUnits: u.ReadUnits - earlier.ReadUnits, WriteUnits: u.WriteUnits - earlier.WriteUnits,
		ConditionalFailures: u.ConditionalFailures - earlier.ConditionalFailures}
	for k, v := range u.Requests {
		if n := v - earlier.Requests[k]; n != 0 {
			d.Requests[k] = n
		}
	}
	return d
}

// APIOption installs the meter on an AWS client: append it to
// aws.Config.APIOptions.
func (m *Meter) APIOption(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("qbridgeMeter",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			m.record(awsmiddleware.GetServiceID(ctx)+"."+awsmiddleware.GetOperationName(ctx), in.Parameters, out.Result, err)
			return out, md, err
		}), middleware.After)
}

func (m *Meter) record(op string, params, result any, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.usage.Requests == nil {
		m.usage.Requests = map[string]int64{}
	}
	m.usage.Requests[op]++
	if len(op) >= 4 && op[:4] == "SQS." {
		m.usage.SQSBillable += sqsBillable(params)
	}
	var ccf *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		m.usage.ConditionalFailures++
		m.usage.WriteUnits++
	}
	for _, c := range consumed(result) {
		if c.ReadCapacityUnits != nil || c.WriteCapacityUnits != nil {
			m.usage.ReadUnits += deref(c.ReadCapacityUnits)
			m.usage.WriteUnits += deref(c.WriteCapacityUnits)
			continue
		}
		// Some implementations report only the total; the operation says which.
		if isRead(op) {
			m.usage.ReadUnits += deref(c.CapacityUnits)
		} else {
			m.usage.WriteUnits += deref(c.CapacityUnits)
		}
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func isRead(op string) bool {
	switch op {
	case "DynamoDB.GetItem", "DynamoDB.BatchGetItem", "DynamoDB.Query", "DynamoDB.Scan":
		return true
	}
	return false
}

// consumed extracts ConsumedCapacity from a DynamoDB output.
func consumed(result any) []ddbtypes.ConsumedCapacity {
	one := func(c *ddbtypes.ConsumedCapacity) []ddbtypes.ConsumedCapacity {
		if c == nil {
			return nil
		}
		return []ddbtypes.ConsumedCapacity{*c}
	}
	switch r := result.(type) {
	case *dynamodb.GetItemOutput:
		return one(r.ConsumedCapacity)
	case *dynamodb.PutItemOutput:
		return one(r.ConsumedCapacity)
	case *dynamodb.UpdateItemOutput:
		return one(r.ConsumedCapacity)
	case *dynamodb.DeleteItemOutput:
		return one(r.ConsumedCapacity)
	case *dynamodb.QueryOutput:
		return one(r.ConsumedCapacity)
	case *dynamodb.BatchGetItemOutput:
		return r.ConsumedCapacity
	case *dynamodb.BatchWriteItemOutput:
		return r.ConsumedCapacity
	}
	return nil
}

// sqsBillable counts 64 KB chunks of a send's payload; any other call is one.
func sqsBillable(params any) int64 {
	size := 0
	switch p := params.(type) {
	case *sqs.SendMessageInput:
		size = len(deref2(p.MessageBody)) + attrSize(p.MessageAttributes)
	case *sqs.SendMessageBatchInput:
		for _, e := range p.Entries {
			size += len(deref2(e.MessageBody)) + attrSize(e.MessageAttributes)
		}
	default:
		return 1
	}
	return int64(max(1, (size+65535)/65536))
}

func deref2(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
