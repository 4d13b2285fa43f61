package dynamo

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/obs"
	"github.com/qbridge/qbridge/shared/store"
)

// BenchmarkStatePerEvent measures DynamoDB capacity per inbound event the
// way dispatch uses the store: read states in bulk, decide, write only what
// is applied. It reports write units per applied event (goal 1) and per
// duplicate (goal 0), and read units per event.
func BenchmarkStatePerEvent(b *testing.B) {
	meter := &obs.Meter{}
	st := newStore(b, nil, meter)
	ctx := context.Background()
	const batch = 100
	keys := make([]model.EntityKey, batch)
	for i := range keys {
		keys[i] = model.EntityKey{Connection: "acme", Entity: "items", Key: fmt.Sprintf("item-%04d", i)}
	}
	handle := func(version int64, owner string) (applied, skipped int) {
		current, err := st.GetMany(ctx, keys)
		if err != nil {
			b.Fatal(err)
		}
		for _, k := range keys {
			next := store.EntityState{Key: k, Version: version, Hash: fmt.Sprint("h", version), Owner: owner}
			var cur *store.EntityState
			if c, ok := current[k]; ok {
				cur = &c
			}
			if store.Decide(cur, &next, false, time.Now()) != store.Applied {
				skipped++
				continue
			}
			out, _, err := st.Apply(ctx, next, false)
			if err != nil || out != store.Applied {
				b.Fatalf("apply: %v %v", out, err)
			}
			applied++
		}
		return
	}
	var appliedUse, dupUse obs.Usage
	var applied, dups int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s0 := meter.Snapshot()
		a, _ := handle(int64(i+1), fmt.Sprint("m", i)) // a new version of every key
		s1 := meter.Snapshot()
		_, d := handle(int64(i+1), fmt.Sprint("dup", i)) // the same events again, other messages
		s2 := meter.Snapshot()
		applied += a
		dups += d
		appliedUse = add(appliedUse, s1.Sub(s0))
		dupUse = add(dupUse, s2.Sub(s1))
	}
	b.ReportMetric(appliedUse.WriteUnits/float64(applied), "WCU/applied")
	b.ReportMetric(dupUse.WriteUnits/float64(dups), "WCU/duplicate")
	b.ReportMetric((appliedUse.ReadUnits+dupUse.ReadUnits)/float64(applied+dups), "RCU/event")
	b.ReportMetric(float64(appliedUse.Total("DynamoDB")+dupUse.Total("DynamoDB"))/float64(applied+dups), "requests/event")
}

func add(a, b obs.Usage) obs.Usage {
	a.ReadUnits += b.ReadUnits
	a.WriteUnits += b.WriteUnits
	if a.Requests == nil {
		a.Requests = map[string]int64{}
	}
	for k, v := range b.Requests {
		a.Requests[k] += v
	}
	return a
}

// BenchmarkAuditPerEvent measures the audit trail's write units per record
// for a dispatch batch of 1,000 outcomes appended at once.
func BenchmarkAuditPerEvent(b *testing.B) {
	meter := &obs.Meter{}
	st := newStore(b, nil, meter)
	recs := make([]store.AuditRecord, 1000)
	now := time.Now()
	for i := range recs {
		recs[i] = store.AuditRecord{Time: now, Connection: "acme", Flow: "dispatch", Entity: "items", Key: fmt.Sprintf("item-%04d", i),
			Outcome: "applied", Version: 1733300000000000 + int64(i), PayloadHash: "3f2a9c0d8e7b6a5f4e3d2c1b0a998877", MessageID: fmt.Sprintf("0b5c1f2e-8d3a-4b6c-9e7f-%012d", i)}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := st.Append(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
	}
	u := meter.Snapshot()
	b.ReportMetric(u.WriteUnits/float64(b.N*len(recs)), "WCU/record")
}
