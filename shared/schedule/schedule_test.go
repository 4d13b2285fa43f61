package schedule

import (
	"strings"
	"testing"
	"time"
)

func TestParseAccepts(t *testing.T) {
	for _, expr := range []string{
		"rate(1 minute)", "rate(5 minutes)", "rate(1 hour)", "rate(12 hours)", "rate(1 day)", "rate(7 days)",
		"cron(0 10 * * ? *)", "cron(15 12 * * ? *)", "cron(0 18 ? * MON-FRI *)", "cron(0 8 1 * ? *)",
		"cron(0/15 * * * ? *)", "cron(0/10 * ? * MON-FRI *)", "cron(0/5 8-17 ? * MON-FRI *)",
		"cron(0 9 ? * 2#1 *)", "cron(0 0 L * ? *)", "cron(0 0 15W * ? *)", "cron(0 0 ? * 6L 2030-2035)",
		"cron(30 2 ? JAN,JUL SUN *)",
	} {
		if _, err := Parse(expr); err != nil {
			t.Errorf("Parse(%q): %v", expr, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"every 5 minutes", "want rate"},
		{"rate(5 minute)", "plural"},
		{"rate(1 minutes)", "singular"},
		{"rate(0 minutes)", "positive"},
		{"rate(5 weeks)", "unit"},
		{"rate(5)", "value and a unit"},
		{"cron(0 10 * * *)", "6 fields"},
		{"cron(0 10 * * * *)", "exactly one"},
		{"cron(0 10 ? * ? *)", "exactly one"},
		{"cron(60 10 * * ? *)", "minutes"},
		{"cron(0 24 * * ? *)", "hours"},
		{"cron(0 1 32 * ? *)", "day-of-month"},
		{"cron(0 1 ? 13 MON *)", "month"},
		{"cron(0 1 ? * FUNDAY *)", "day-of-week"},
		{"cron(0 1 ? * 2#6 *)", "d#n"},
		{"cron(0 1 * * ? 1969)", "year"},
		{"cron(0 5-1 * * ? *)", "backwards"},
		{"cron(*/0 1 * * ? *)", "step"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.expr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want error containing %q", tt.expr, err, tt.want)
		}
	}
}

func TestNext(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct{ expr, from, want string }{
		{"rate(5 minutes)", "2026-12-04 10:02", "2026-12-04 10:07"},
		{"cron(0 10 * * ? *)", "2026-12-04 10:00", "2026-12-05 10:00"},
		{"cron(0/15 * * * ? *)", "2026-12-04 10:01", "2026-12-04 10:15"},
		{"cron(0 18 ? * MON-FRI *)", "2026-12-04 19:00", "2026-12-07 18:00"}, // Fri evening → Monday
		{"cron(0 0 L * ? *)", "2026-02-03 00:00", "2026-02-28 00:00"},
		{"cron(0 9 ? * 2#1 *)", "2026-12-08 00:00", "2027-01-04 09:00"}, // first Monday of the next month
		{"cron(0 0 ? * 6L *)", "2026-12-01 00:00", "2026-12-25 00:00"},  // last Friday
		{"cron(0 0 1W * ? *)", "2026-11-02 00:00", "2026-12-01 00:00"},  // Dec 1 2026 is a Tuesday
		{"cron(0 0 1W * ? *)", "2026-07-31 00:00", "2026-08-03 00:00"},  // Aug 1 2026 is a Saturday → Monday 3rd
		{"cron(0 0 1 1 ? 2030)", "2026-12-04 00:00", "2030-01-01 00:00"},
	}
	for _, tt := range tests {
		s, err := Parse(tt.expr)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.expr, err)
		}
		if got := s.Next(at(tt.from)); !got.Equal(at(tt.want)) {
			t.Errorf("%s.Next(%s) = %s, want %s", tt.expr, tt.from, got.Format("2006-01-02 15:04 Mon"), tt.want)
		}
	}
}

func TestNextNeverForPastYear(t *testing.T) {
	s, err := Parse("cron(0 0 1 1 ? 2020)")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); !got.IsZero() {
		t.Errorf("Next = %v, want zero", got)
	}
}
