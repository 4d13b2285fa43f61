package ops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/qbridge/qbridge/shared/erp"
	"github.com/qbridge/qbridge/shared/store"
)

// Health is GET /ops/health.
type Health struct {
	Healthy     bool                 `json:"healthy"`
	Checks      []Check              `json:"checks"`
	Queues      []QueueHealth        `json:"queues"`
	Connections []ConnectionHealth   `json:"connections"`
	LastSuccess map[string]time.Time `json:"lastSuccess"` // per flow
	GeneratedAt time.Time            `json:"generatedAt"`
}

// Check is one health rule.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// QueueHealth is one queue's depth.
type QueueHealth struct {
	Name        string  `json:"name"`
	Visible     int     `json:"visible"`
	InFlight    int     `json:"inFlight"`
	OldestSec   float64 `json:"oldestSeconds,omitempty"`
	DeadLetters bool    `json:"deadLetters"`
}

// ConnectionHealth is one connection's budget, watermarks and subscriptions.
type ConnectionHealth struct {
	Connection    string             `json:"connection"`
	AlisQIBudget  int                `json:"alisqiBudget"` // calls available now
	AlisQILimit   int                `json:"alisqiLimit"`  // per minute
	BlockedUntil  *time.Time         `json:"blockedUntil,omitempty"`
	WatermarkLag  map[string]float64 `json:"watermarkLagSeconds"`
	Subscriptions []erp.Subscription `json:"subscriptions,omitempty"`
	Error         string             `json:"error,omitempty"`
}

const (
	backlogLimit = 15 * time.Minute
	renewWithin  = 24 * time.Hour
)

func (s *Service) health(ctx context.Context) Health {
	now := s.now()
	h := Health{Healthy: true, LastSuccess: map[string]time.Time{}, GeneratedAt: now}
	add := func(name string, ok bool, format string, args ...any) {
		h.Checks = append(h.Checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
		h.Healthy = h.Healthy && ok
	}
	if s.Inbound != nil {
		qh, err := s.queueHealth(ctx, "inbound", s.Inbound, false)
		if err != nil {
			add("inbound queue", false, "cannot read its depth: %v", err)
		} else {
			h.Queues = append(h.Queues, qh)
			old := time.Duration(qh.OldestSec * float64(time.Second))
			add("inbound backlog", old < backlogLimit, "%d waiting, %d in flight, oldest %v", qh.Visible, qh.InFlight, old.Round(time.Second))
		}
	}
	for _, d := range s.DeadLetters {
		qh, err := s.queueHealth(ctx, d.Name, d.Queue, true)
		if err != nil {
			add(d.Name, false, "cannot read its depth: %v", err)
			continue
		}
		h.Queues = append(h.Queues, qh)
		add(d.Name, qh.Visible+qh.InFlight == 0, "%d dead letters waiting for an operator", qh.Visible+qh.InFlight)
	}
	for _, name := range s.Connections.Names() {
		ch := s.connectionHealth(ctx, name, now)
		h.Connections = append(h.Connections, ch)
		if ch.BlockedUntil != nil {
			add(name+": AlisQI rate limit", false, "AlisQI asked qbridge to wait until %s", ch.BlockedUntil.Format(time.RFC3339))
		}
		for _, sub := range ch.Subscriptions {
			left := sub.Expires.Sub(now)
			add(name+": subscription "+sub.Resource, left > renewWithin, "expires in %v", left.Round(time.Minute))
		}
		if ch.Error != "" {
			add(name, false, "%s", ch.Error)
		}
	}
	for _, name := range s.Connections.Names() {
		recs, err := s.Audit.Since(ctx, name, now.Add(-7*24*time.Hour), 2000)
		if err != nil {
			add("audit trail", false, "cannot read it: %v", err)
			break
		}
		for _, r := range recs {
			if r.Outcome == "applied" || r.Flow == "ops" {
				if r.Time.After(h.LastSuccess[r.Flow]) {
					h.LastSuccess[r.Flow] = r.Time
				}
			}
		}
	}
	sort.Slice(h.Checks, func(i, j int) bool { return !h.Checks[i].OK && h.Checks[j].OK })
	return h
}

func (s *Service) queueHealth(ctx context.Context, name string, g Gauge, dead bool) (QueueHealth, error) {
	v, f, err := g.Depth(ctx)
	qh := QueueHealth{Name: name, Visible: v, InFlight: f, DeadLetters: dead}
	if a, ok := g.(Ager); ok && err == nil {
		old, aerr := a.Oldest(ctx)
		if aerr == nil {
			qh.OldestSec = old.Seconds()
		}
	}
	return qh, err
}

func (s *Service) connectionHealth(ctx context.Context, name string, now time.Time) ConnectionHealth {
	c, _ := s.Connections.Get(name)
	ch := ConnectionHealth{Connection: name, AlisQILimit: c.Spec.AlisQI.CallsPerMinute, WatermarkLag: map[string]float64{}}
	if client, err := s.Connections.AlisQI(ctx, c); err == nil && s.Limiter != nil {
		n, until, err := s.Limiter.Budget(ctx, client.Bucket(), store.Rate{PerMinute: ch.AlisQILimit})
		if err == nil {
			ch.AlisQIBudget = n
			if until.After(now) {
				ch.BlockedUntil = &until
			}
		}
	}
	for _, job := range c.Spec.Schedules() {
		w, err := s.Watermarks.Get(ctx, name+"/"+job.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			ch.Error = "watermarks unavailable: " + err.Error()
		default:
			ch.WatermarkLag[job.Name] = now.Sub(w.UpdatedAt).Seconds()
		}
	}
	if adapter, err := s.Connections.Adapter(ctx, c); err != nil {
		ch.Error = err.Error()
	} else if l, ok := adapter.(erp.SubscriptionLister); ok {
		subs, err := l.Subscriptions(ctx)
		if err != nil {
			ch.Error = "cannot list the ERP's subscriptions: " + err.Error()
		}
		ch.Subscriptions = subs
	}
	return ch
}
