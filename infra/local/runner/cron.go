package runner

import (
	"context"
	"log/slog"
	"sort"
	"time"

	"github.com/qbridge/qbridge/shared/schedule"
	"github.com/qbridge/qbridge/shared/wait"
)

// Job is one scheduled piece of work, as EventBridge would trigger it.
type Job struct {
	Name     string
	Schedule schedule.Schedule
	Run      func(ctx context.Context) error
}

// Cron runs jobs at their schedules' times (UTC, as EventBridge).
type Cron struct {
	Jobs []Job
	Log  *slog.Logger
	Now  func() time.Time
	// Sleep waits until t or ctx ends; tests replace it.
	Sleep func(ctx context.Context, t time.Time) error
}

func (c *Cron) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Cron) sleep(ctx context.Context, t time.Time) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, t)
	}
	return wait.Sleep(ctx, time.Until(t))
}

// Run fires jobs until ctx ends. A job that fails is logged; its schedule
// goes on (EventBridge retries are the sync function's concern).
func (c *Cron) Run(ctx context.Context) {
	if len(c.Jobs) == 0 {
		return
	}
	next := make([]time.Time, len(c.Jobs))
	for i, j := range c.Jobs {
		next[i] = j.Schedule.Next(c.now())
	}
	for ctx.Err() == nil {
		order := make([]int, len(c.Jobs))
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool { return next[order[a]].Before(next[order[b]]) })
		first := order[0]
		if next[first].IsZero() {
			return // no job will ever fire again
		}
		if err := c.sleep(ctx, next[first]); err != nil {
			return
		}
		at := next[first]
		for _, i := range order {
			if next[i].After(at) || next[i].IsZero() {
				continue
			}
			j := c.Jobs[i]
			if err := j.Run(ctx); err != nil && c.Log != nil {
				c.Log.Error("scheduled job failed", "job", j.Name, "error", err.Error())
			}
			next[i] = j.Schedule.Next(at)
		}
	}
}
