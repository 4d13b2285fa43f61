// Command benchflow drives the whole inbound path — the real ingest and
// dispatch handlers, SQS on fauxqs, DynamoDB on dynalite, the AlisQI sandbox
// — with 10,000 events over 2,000 keys (each key changed 5 times, every
// event delivered twice more as a duplicate) and prints what it cost, one
// figure a line. Run it with make bench-flow (which starts the emulators).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/qbridge/qbridge/shared/erp/generic"
	"github.com/qbridge/qbridge/shared/flowtest"
	"github.com/qbridge/qbridge/shared/obs"
	"github.com/qbridge/qbridge/shared/spec"
)

// What the CDK stack configures: the functions' memory and the dispatch
// event source mapping's batch size (its batching window is 5 s).
const (
	ingestMB   = 128
	dispatchMB = 512
	batch      = 1000
)

func main() {
	keys := flag.Int("keys", 2000, "entity keys")
	versions := flag.Int("versions", 5, "changes per key")
	copies := flag.Int("copies", 3, "deliveries of each event (1 + duplicates)")
	perRequest := flag.Int("per-request", 100, "events per webhook request (BC-style notification)")
	singles := flag.Int("singles", 1000, "events sent one per request, to price that delivery style")
	specFile := flag.String("spec", "testdata/specs/generic.yaml", "spec")
	flag.Parse()
	if err := run(*specFile, *keys, *versions, *copies, *perRequest, *singles); err != nil {
		fmt.Fprintln(os.Stderr, "benchflow:", err)
		os.Exit(1)
	}
}

func run(specFile string, keys, versions, copies, perRequest, singles int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	h, err := flowtest.New(ctx, flowtest.Options{SpecFile: specFile, DynamoDB: os.Getenv("QBRIDGE_TEST_DYNAMODB_ENDPOINT"), SQS: os.Getenv("QBRIDGE_TEST_SQS_ENDPOINT"),
		Quiet: true, Lease: 20 * time.Second, Visibility: 60 * time.Second, Window: 5 * time.Second,
		// The call count, not the clock, is measured: let calls through at once.
		Modify: func(s *spec.Spec) { s.AlisQI.CallsPerMinute = 100000 }})
	if err != nil {
		return err
	}
	defer h.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	event := func(k, v int) map[string]any {
		return map[string]any{"entity": "items", "action": "updated", "record": map[string]any{
			"sku": fmt.Sprintf("SKU-%05d", k), "name": fmt.Sprintf("Item %d, revision %d", k, v), "status": "A",
			"shelfLife": "30", "revision": v, "changedAt": base.Add(time.Duration(v) * time.Minute).Format(time.RFC3339)}}
	}

	// Price of one-event-per-request delivery, on separate keys.
	before := h.IngestMeter.Snapshot()
	for i := 0; i < singles; i++ {
		if err := post(h, []map[string]any{event(1_000_000+i, 1)}); err != nil {
			return err
		}
	}
	singleUse := h.IngestMeter.Snapshot().Sub(before)
	singleNanos := h.IngestNanos.Load()
	if err := h.Drain(ctx, 2, batch); err != nil {
		return err
	}
	h.Meter.Reset()
	h.IngestMeter.Reset()
	h.IngestCalls.Store(0)
	h.IngestNanos.Store(0)
	h.DispatchCalls.Store(0)
	h.DispatchNanos.Store(0)
	aqBefore := h.AlisQI.CountCalls("")

	// The main run: each round is one new version of every key, delivered
	// copies times in shuffled order, while two dispatchers drain the queue.
	var drainErr error
	var wg sync.WaitGroup
	stop, cancelDrain := context.WithCancel(ctx)
	defer cancelDrain()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for stop.Err() == nil {
			if err := h.Drain(stop, 2, batch); err != nil && stop.Err() == nil {
				drainErr = err
				return
			}
		}
	}()
	deliveries := 0
	for v := 1; v <= versions; v++ {
		var round []map[string]any
		for c := 0; c < copies; c++ {
			for k := 0; k < keys; k++ {
				round = append(round, event(k, v))
			}
		}
		rng.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		for start := 0; start < len(round); start += perRequest {
			if err := post(h, round[start:min(start+perRequest, len(round))]); err != nil {
				return err
			}
		}
		deliveries += len(round)
	}
	cancelDrain()
	wg.Wait()
	if drainErr != nil {
		return drainErr
	}
	if err := h.Drain(ctx, 2, batch); err != nil {
		return err
	}
	use, ingestUse := withoutHarness(h.Meter.Snapshot()), h.IngestMeter.Snapshot()
	aqCalls := h.AlisQI.CountCalls("") - aqBefore
	outcomes, err := auditOutcomes(ctx, h)
	if err != nil {
		return err
	}
	if got := len(h.AlisQI.Results(11)); got != keys+singles {
		return fmt.Errorf("AlisQI holds %d items, want %d", got, keys+singles)
	}

	// Duplicates alone: every event once more.
	h.Meter.Reset()
	for start := 0; start < keys; start += perRequest {
		var batch []map[string]any
		for k := start; k < min(start+perRequest, keys); k++ {
			batch = append(batch, event(k, versions))
		}
		if err := post(h, batch); err != nil {
			return err
		}
	}
	if err := h.Drain(ctx, 2, batch); err != nil {
		return err
	}
	dupUse := h.Meter.Snapshot()
	dupCalls := h.AlisQI.CountCalls("") - aqBefore - aqCalls

	events := float64(deliveries)
	distinct := float64(keys * versions)
	downUse := use
	fmt.Printf("events delivered: %d (%d keys x %d versions x %d copies, %d per request)\n", deliveries, keys, versions, copies, perRequest)
	fmt.Printf("outcomes: %v\n", outcomes)
	fmt.Printf("AlisQI calls: %d\n", aqCalls)
	fmt.Printf("AlisQI calls per 1000 events: %.2f\n", float64(aqCalls)*1000/events)
	fmt.Printf("events per AlisQI call: %.0f\n", events/float64(aqCalls))
	fmt.Printf("DynamoDB write units per event: %.3f (per distinct change: %.3f)\n", downUse.WriteUnits/events, downUse.WriteUnits/distinct)
	fmt.Printf("DynamoDB write units per duplicate: %.3f (AlisQI calls for %d duplicates: %d)\n", dupUse.WriteUnits/float64(keys), keys, dupCalls)
	fmt.Printf("DynamoDB read units per event: %.3f\n", downUse.ReadUnits/events)
	fmt.Printf("SQS requests per event: %.4f (ingest %.4f, dispatch %.4f)\n", float64(ingestUse.SQSBillable+downUse.SQSBillable)/events, float64(ingestUse.SQSBillable)/events, float64(downUse.SQSBillable)/events)
	fmt.Printf("dispatch invocations: %d, mean %.0f ms\n", h.DispatchCalls.Load(), float64(h.DispatchNanos.Load())/1e6/float64(max(1, h.DispatchCalls.Load())))
	fmt.Printf("DynamoDB requests: %v (conditional failures %d)\n", requests(use, "DynamoDB"), use.ConditionalFailures)
	fmt.Printf("SQS requests: %v\n", requests(use, "SQS"))

	perM := 1e6 / events
	down := obs.USEast1.Price(obs.Work{Usage: downUse, Invocations: h.DispatchCalls.Load(),
		GBSeconds: gbSeconds(h.DispatchNanos.Load(), dispatchMB)}).Scale(perM)
	batched := obs.USEast1.Price(obs.Work{Usage: ingestUse, HTTPRequests: h.IngestCalls.Load(), Invocations: h.IngestCalls.Load(),
		GBSeconds: gbSeconds(h.IngestNanos.Load(), ingestMB)}).Scale(perM)
	single := obs.USEast1.Price(obs.Work{Usage: singleUse, HTTPRequests: int64(singles), Invocations: int64(singles),
		GBSeconds: gbSeconds(singleNanos, ingestMB)}).Scale(1e6 / float64(singles))
	fmt.Printf("cost per 1M events, delivery, one event per request: $%.4f\n", single.Total())
	fmt.Printf("cost per 1M events, delivery, %d events per request: $%.4f\n", perRequest, batched.Total())
	fmt.Printf("cost per 1M events, downstream (queue, dispatch, state): $%.4f\n", down.Total())
	down.Fprint(os.Stdout, "downstream breakdown per 1M events")
	fmt.Printf("reference: a per-event pipeline with two idempotency writes per event: $2.67 per 1M events\n")
	return nil
}

// requests returns one service's request counts by operation.
func requests(u obs.Usage, service string) map[string]int64 {
	out := map[string]int64{}
	for k, v := range u.Requests {
		if op, ok := strings.CutPrefix(k, service+"."); ok {
			out[op] = v
		}
	}
	return out
}

func auditOutcomes(ctx context.Context, h *flowtest.Harness) (map[string]int, error) {
	recs, err := h.Audit(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, r := range recs {
		out[r.Outcome]++
	}
	return out, nil
}

// withoutHarness drops the harness's own queue-depth polling, which no
// deployment makes.
func withoutHarness(u obs.Usage) obs.Usage {
	n := u.Requests["SQS.GetQueueAttributes"]
	delete(u.Requests, "SQS.GetQueueAttributes")
	u.SQSBillable -= n
	return u
}

func gbSeconds(nanos int64, mb int) float64 {
	return float64(nanos) / 1e9 * float64(mb) / 1024
}

func post(h *flowtest.Harness, events []map[string]any) error {
	raw, _ := json.Marshal(map[string]any{"events": events})
	ts, sig := generic.Sign(flowtest.Credentials.WebhookSecret, time.Now(), raw)
	req, _ := http.NewRequest(http.MethodPost, h.EventsURL(), bytes.NewReader(raw))
	req.Header.Set(generic.HeaderTimestamp, ts)
	req.Header.Set(generic.HeaderSignature, sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		return fmt.Errorf("ingest answered %d", resp.StatusCode)
	}
	return nil
}
