package obs

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestEMF(t *testing.T) {
	m := NewMetrics("qbridge", map[string]string{"Flow": "dispatch", "Connection": "acme"})
	m.Count("applied", 3)
	m.Count("applied", 2)
	m.Millis("duration", 1500*time.Microsecond)
	var buf bytes.Buffer
	if err := m.Write(&buf, time.UnixMilli(1700000000000)); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	aws := line["_aws"].(map[string]any)
	cw := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if line["applied"] != 5.0 || line["duration"] != 1.5 || line["Flow"] != "dispatch" || aws["Timestamp"] != 1.7e12 || cw["Namespace"] != "qbridge" {
		t.Errorf("line = %s", buf.String())
	}
	dims := cw["Dimensions"].([]any)[0].([]any)
	if len(dims) != 2 || dims[0] != "Connection" {
		t.Errorf("dimensions = %v", dims)
	}
	buf.Reset()
	_ = m.Write(&buf, time.Now())
	if buf.Len() != 0 {
		t.Error("values not reset")
	}
}
