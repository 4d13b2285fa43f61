package model

import (
	"errors"
	"fmt"
	"testing"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      any
		want    int64
		wantErr bool
	}{
		{"2024-03-01T10:00:00Z", 1709287200000000, false},
		{"2024-03-01T10:00:00.1234567Z", 1709287200123456, false},
		{"2024-03-01T11:00:00+01:00", 1709287200000000, false},
		{"2024-03-01T10:00:00", 1709287200000000, false},
		{"2024-03-01 10:00:00", 1709287200000000, false},
		{"/Date(1709287200000)/", 1709287200000000, false},
		{"/Date(1709287200000+0000)/", 1709287200000000, false},
		{"42", 42, false},
		{float64(7), 7, false},
		{int64(9), 9, false},
		{float64(1.5), 0, true},
		{float64(-1), 0, true},
		{"-3", 0, true},
		{"", 0, true},
		{"yesterday", 0, true},
		{nil, 0, true},
		{true, 0, true},
		{"/Date(abc)/", 0, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.in), func(t *testing.T) {
			got, err := ParseVersion(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseVersion(%v) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseVersion(%v) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestVersionOrdersBCTimestamps(t *testing.T) {
	a, _ := ParseVersion("2024-03-01T10:00:00.0000001Z")
	b, _ := ParseVersion("2024-03-01T10:00:00.000002Z")
	if !(a < b) {
		t.Errorf("versions not ordered: %d !< %d", a, b)
	}
}

func TestValidators(t *testing.T) {
	if !KindBatch.Valid() || Kind("lot").Valid() {
		t.Error("Kind.Valid wrong")
	}
	if !ActionReleased.Valid() || Action("posted").Valid() {
		t.Error("Action.Valid wrong")
	}
	if !VerdictConditional.Valid() || Verdict("maybe").Valid() {
		t.Error("Verdict.Valid wrong")
	}
	if !KindItem.IsMasterData() || KindBatch.IsMasterData() {
		t.Error("IsMasterData wrong")
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	inner := errors.New("dial tcp 10.0.0.1: refused")
	err := fmt.Errorf("enqueue: %w", Wrap(EUnavailable, "queue unavailable", inner))
	if ErrorCode(err) != EUnavailable {
		t.Errorf("code = %q", ErrorCode(err))
	}
	if ErrorMessage(err) != "queue unavailable" {
		t.Errorf("message = %q leaks or is wrong", ErrorMessage(err))
	}
	if ErrorCode(inner) != EInternal || ErrorMessage(inner) != "internal error" {
		t.Error("plain errors must be internal with a generic message")
	}
	if ErrorCode(nil) != "" {
		t.Error("nil error has a code")
	}
	if !errors.Is(err, inner) {
		t.Error("Wrap must keep the cause")
	}
}
