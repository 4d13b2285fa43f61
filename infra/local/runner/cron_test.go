package runner

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/qbridge/qbridge/shared/schedule"
)

func TestCronFiresOnSchedule(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 30, 0, time.UTC)
	var mu sync.Mutex
	fired := map[string][]time.Time{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	job := func(name, expr string) Job {
		s, err := schedule.Parse(expr)
		if err != nil {
			t.Fatal(err)
		}
		return Job{Name: name, Schedule: s, Run: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			fired[name] = append(fired[name], now)
			if len(fired["fast"]) == 4 {
				cancel()
			}
			return nil
		}}
	}
	c := &Cron{Jobs: []Job{job("fast", "rate(5 minutes)"), job("daily", "cron(15 10 * * ? *)")},
		Now: func() time.Time { return now },
		Sleep: func(ctx context.Context, t time.Time) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			now = t // the fake clock jumps to the next firing
			return nil
		}}
	c.Run(ctx)
	want := []string{"10:05", "10:10", "10:15", "10:20"}
	for i, w := range want {
		if got := fired["fast"][i].Format("15:04"); got != w {
			t.Errorf("fast fired at %s, want %s", got, w)
		}
	}
	if len(fired["daily"]) != 1 || fired["daily"][0].Format("15:04") != "10:15" {
		t.Errorf("daily fired at %v", fired["daily"])
	}
}
