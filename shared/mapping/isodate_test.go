package mapping

import (
	"testing"
	"time"
)

// TestParseISOAgreesWithTime checks the fast parser against time.Parse on
// the shapes it accepts, and that it refuses what it does not understand.
func TestParseISOAgreesWithTime(t *testing.T) {
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	for _, s := range []string{
		"2024-03-01", "2024-02-29", "2024-03-01T10:00:00Z", "2024-03-01T10:00:00.1234567Z", "2024-03-01T10:00:00.5+02:00",
		"2024-03-01T10:00:00-0530", "2024-03-01 10:00:00", "2024-10-27T02:30:00", "2024-03-01T10:00",
	} {
		got, ok := parseISO(s, ams)
		if !ok {
			t.Errorf("parseISO(%q) refused", s)
			continue
		}
		var want time.Time
		var err error
		for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02", "2006-01-02T15:04:05-0700", "2006-01-02T15:04"} {
			if want, err = time.ParseInLocation(l, s, ams); err == nil {
				break
			}
		}
		if err != nil || !got.Equal(want) {
			t.Errorf("parseISO(%q) = %v, time.Parse = %v (%v)", s, got, want, err)
		}
	}
	for _, s := range []string{"2024-13-01", "2023-02-29", "2024-03-01T25:00:00Z", "2024-03-01T10:00:00.Z", "2024-03-01T10:00:00+2", "2024/03/01", "2024-03-01T10:00:00 UTC", "24-03-01", "2024-03-01X"} {
		if _, ok := parseISO(s, time.UTC); ok {
			t.Errorf("parseISO(%q) accepted", s)
		}
	}
}

func TestAppendAlisQI(t *testing.T) {
	tm := time.Date(987, 1, 2, 3, 4, 5, 0, time.UTC)
	if got := string(appendAlisQI(nil, tm, false)); got != tm.Format(AlisQIDateTime) || got != "0987-01-02 03:04:05" {
		t.Errorf("got %s", got)
	}
	if got := string(appendAlisQI(nil, tm, true)); got != "0987-01-02" {
		t.Errorf("date only: %s", got)
	}
}
