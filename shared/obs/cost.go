package obs

import (
	"fmt"
	"io"
)

// Prices are AWS list prices in dollars per unit (us-east-1, arm64), as
// ../shared/API-NOTES.md gives them.
type Prices struct {
	LambdaRequest   float64 // per invocation
	LambdaGBSecond  float64 // per GB-second
	SQSRequest      float64 // per standard-queue request (64 KB chunk)
	SQSFIFORequest  float64
	DynamoWriteUnit float64 // on-demand, per write unit
	DynamoReadUnit  float64 // on-demand, per read unit
	HTTPAPIRequest  float64 // per HTTP API request (512 KB chunk)
	SecretsCall     float64 // per Secrets Manager API call
}

// USEast1 holds the prices of the cost model.
var USEast1 = Prices{
	LambdaRequest:   0.20 / 1e6,
	LambdaGBSecond:  0.0000133334,
	SQSRequest:      0.40 / 1e6,
	SQSFIFORequest:  0.50 / 1e6,
	DynamoWriteUnit: 0.625 / 1e6,
	DynamoReadUnit:  0.125 / 1e6,
	HTTPAPIRequest:  1.00 / 1e6,
	SecretsCall:     0.05 / 1e4,
}

// Work is what a run of qbridge consumed, AWS calls and Lambda time.
type Work struct {
	Usage        Usage
	HTTPRequests int64   // HTTP API requests served
	Invocations  int64   // Lambda invocations
	GBSeconds    float64 // Lambda memory × billed duration
	SQSFIFO      bool    // the queue requests were FIFO
	SecretsCalls int64   // beyond those in Usage (e.g. per cold start)
}

// Cost is a bill, by line, in dollars.
type Cost struct {
	HTTPAPI, Lambda, SQS, DynamoDB, Secrets float64
}

// Total is the whole bill.
func (c Cost) Total() float64 { return c.HTTPAPI + c.Lambda + c.SQS + c.DynamoDB + c.Secrets }

// Scale multiplies every line, e.g. to go from a run's events to 1M events.
func (c Cost) Scale(f float64) Cost {
	return Cost{c.HTTPAPI * f, c.Lambda * f, c.SQS * f, c.DynamoDB * f, c.Secrets * f}
}

// Add sums two bills.
func (c Cost) Add(o Cost) Cost {
	return Cost{c.HTTPAPI + o.HTTPAPI, c.Lambda + o.Lambda, c.SQS + o.SQS, c.DynamoDB + o.DynamoDB, c.Secrets + o.Secrets}
}

// Price turns work into dollars.
func (p Prices) Price(w Work) Cost {
	sqsPrice := p.SQSRequest
	if w.SQSFIFO {
		sqsPrice = p.SQSFIFORequest
	}
	return Cost{
		HTTPAPI:  float64(w.HTTPRequests) * p.HTTPAPIRequest,
		Lambda:   float64(w.Invocations)*p.LambdaRequest + w.GBSeconds*p.LambdaGBSecond,
		SQS:      float64(w.Usage.SQSBillable) * sqsPrice,
		DynamoDB: w.Usage.WriteUnits*p.DynamoWriteUnit + w.Usage.ReadUnits*p.DynamoReadUnit,
		Secrets:  float64(w.Usage.Total("Secrets Manager")+w.SecretsCalls) * p.SecretsCall,
	}
}

// Fprint writes the bill one line per item.
func (c Cost) Fprint(w io.Writer, label string) {
	fmt.Fprintf(w, "%s: $%.4f (HTTP API $%.4f, Lambda $%.4f, SQS $%.4f, DynamoDB $%.4f, Secrets Manager $%.4f)\n",
		label, c.Total(), c.HTTPAPI, c.Lambda, c.SQS, c.DynamoDB, c.Secrets)
}
