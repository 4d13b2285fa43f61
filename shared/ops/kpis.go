package ops

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/store"
)

// KPIs is GET /ops/kpis: the success measures of the integration.
type KPIs struct {
	Since               time.Time      `json:"since"`
	Events              int            `json:"events"`
	ByOutcome           map[string]int `json:"byOutcome"`
	LatencyMs           Percentiles    `json:"latencyMs"`   // ERP change received → applied in AlisQI
	FailureRate         float64        `json:"failureRate"` // dead-lettered / final outcomes
	ManualInterventions int            `json:"manualInterventions"`
	Decisions           map[string]int `json:"decisions"` // rejected and blocked lots, by verdict
}

// Percentiles of a latency.
type Percentiles struct {
	P50 int64 `json:"p50"`
	P95 int64 `json:"p95"`
	P99 int64 `json:"p99"`
	Max int64 `json:"max"`
}

// maxKPIRecords bounds how much of the audit trail one KPI call reads.
const maxKPIRecords = 200000

func (s *Service) kpis(ctx context.Context, connection string, window time.Duration) (KPIs, error) {
	since := s.now().Add(-window)
	k := KPIs{Since: since, ByOutcome: map[string]int{}, Decisions: map[string]int{}}
	var latencies []int64
	final := 0
	for _, name := range s.names(connection) {
		recs, err := s.Audit.Since(ctx, name, since, maxKPIRecords)
		if err != nil {
			return k, model.Wrap(model.EUnavailable, "audit trail unavailable", err)
		}
		for _, r := range recs {
			if r.Flow == "ops" {
				k.ManualInterventions++
				continue
			}
			if v, ok := strings.CutPrefix(r.Outcome, "decision:"); ok {
				k.Decisions[v]++
				continue
			}
			k.Events++
			k.ByOutcome[r.Outcome]++
			if r.Outcome != "retried" {
				final++
			}
			if r.Outcome == "applied" && r.LatencyMs > 0 {
				latencies = append(latencies, r.LatencyMs)
			}
		}
	}
	if final > 0 {
		k.FailureRate = float64(k.ByOutcome["deadLettered"]) / float64(final)
	}
	k.LatencyMs = percentiles(latencies)
	return k, nil
}

func percentiles(v []int64) Percentiles {
	if len(v) == 0 {
		return Percentiles{}
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	at := func(p float64) int64 { return v[min(len(v)-1, int(p*float64(len(v))))] }
	return Percentiles{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: v[len(v)-1]}
}

func (s *Service) names(connection string) []string {
	if connection != "" {
		return []string{connection}
	}
	return s.Connections.Names()
}

func (s *Service) audit(ctx context.Context, connection, entity, key string, window time.Duration) ([]store.AuditRecord, error) {
	since := s.now().Add(-window)
	var out []store.AuditRecord
	for _, name := range s.names(connection) {
		var recs []store.AuditRecord
		var err error
		if key != "" {
			recs, err = s.Audit.ByKey(ctx, model.EntityKey{Connection: name, Entity: entity, Key: key}, since, 500)
		} else {
			recs, err = s.Audit.Since(ctx, name, since, 500)
		}
		if err != nil {
			return nil, model.Wrap(model.EUnavailable, "audit trail unavailable", err)
		}
		out = append(out, recs...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	if len(out) > 500 {
		out = out[:500]
	}
	return out, nil
}
