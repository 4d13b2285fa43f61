package model

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseVersion turns an ERP change marker into a comparable version: unix
// microseconds for timestamps (BC lastModifiedDateTime, SAP ChangedDateTime,
// Exact Modified), the number itself for counters. Microseconds keep BC's
// seven fractional digits ordered without overflowing int64.
func ParseVersion(v any) (int64, error) {
	switch x := v.(type) {
	case float64:
		if x < 0 || x > math.MaxInt64 || x != math.Trunc(x) {
			return 0, fmt.Errorf("version %v is not a non-negative integer", x)
		}
		return int64(x), nil
	case int64:
		if x < 0 {
			return 0, fmt.Errorf("version %d is negative", x)
		}
		return x, nil
	case int:
		if x < 0 {
			return 0, fmt.Errorf("version %d is negative", x)
		}
		return int64(x), nil
	case string:
		return parseVersionString(x)
	case nil:
		return 0, fmt.Errorf("version is missing")
	}
	return 0, fmt.Errorf("version has type %T, want a timestamp or a number", v)
}

func parseVersionString(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("version is empty")
	}
	// SAP OData v2: /Date(1492098664000)/ or /Date(1492098664000+0000)/
	if strings.HasPrefix(s, "/Date(") && strings.HasSuffix(s, ")/") {
		inner := s[len("/Date(") : len(s)-2]
		if i := strings.IndexAny(inner[1:], "+-"); i >= 0 {
			inner = inner[:i+1]
		}
		ms, err := strconv.ParseInt(inner, 10, 64)
		if err != nil || ms < 0 {
			return 0, fmt.Errorf("version %q is not an OData date", s)
		}
		return ms * 1000, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("version %q is negative", s)
		}
		return n, nil
	}
	for _, layout := range versionLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMicro(), nil
		}
	}
	return 0, fmt.Errorf("version %q is neither a timestamp nor a number", s)
}

// versionLayouts are the timestamp shapes the ERPs send; a missing zone means UTC.
var versionLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05",
}
