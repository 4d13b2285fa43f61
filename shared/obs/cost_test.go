package obs

import (
	"math"
	"testing"
)

// The brief's reference point: a per-event pipeline (an SQS send, receive
// and delete, two idempotency writes and one 128 MB, ~10 ms Lambda
// invocation per event) costs about $2.67 per 1M events.
func TestPriceOfANaivePipeline(t *testing.T) {
	const events = 1e6
	w := Work{
		Usage:       Usage{SQSBillable: 3 * events, WriteUnits: 2 * events},
		Invocations: events,
		GBSeconds:   events * 0.125 * 0.010,
	}
	c := USEast1.Price(w)
	if math.Abs(c.Total()-2.67) > 0.01 {
		t.Errorf("naive pipeline costs $%.2f per 1M events, want about $2.67: %+v", c.Total(), c)
	}
	if got := c.Scale(2).Total(); math.Abs(got-2*c.Total()) > 1e-9 {
		t.Errorf("Scale: %v", got)
	}
}

func TestPriceLines(t *testing.T) {
	c := USEast1.Price(Work{
		Usage:        Usage{Requests: map[string]int64{"Secrets Manager.GetSecretValue": 10_000}, SQSBillable: 1e6, WriteUnits: 1e6, ReadUnits: 1e6},
		HTTPRequests: 1e6, Invocations: 1e6, GBSeconds: 1,
	})
	want := Cost{HTTPAPI: 1, Lambda: 0.2 + 0.0000133334, SQS: 0.4, DynamoDB: 0.625 + 0.125, Secrets: 0.05}
	if math.Abs(c.Total()-want.Total()) > 1e-9 || math.Abs(c.Secrets-0.05) > 1e-12 {
		t.Errorf("cost = %+v, want %+v", c, want)
	}
	fifo := USEast1.Price(Work{Usage: Usage{SQSBillable: 1e6}, SQSFIFO: true})
	if math.Abs(fifo.SQS-0.5) > 1e-12 {
		t.Errorf("FIFO = %v", fifo.SQS)
	}
}
