package schedule

import (
	"testing"
	"time"
)

// FuzzParse: no expression panics Parse, and Next always moves forward (or
// reports never).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"rate(5 minutes)", "cron(0 10 * * ? *)", "cron(0/15 8-17 ? * MON-FRI 2026-2030)", "cron(0 0 L * ? *)", "cron(0 0 15W * ? *)", "cron(0 9 ? * 2#1 *)"} {
		f.Add(s)
	}
	from := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr)
		if err != nil {
			return
		}
		if next := s.Next(from); !next.IsZero() && !next.After(from) {
			t.Fatalf("%s: Next(%v) = %v", expr, from, next)
		}
	})
}
