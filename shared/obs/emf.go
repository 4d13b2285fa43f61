package obs

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"
)

// Metrics collects counts and durations for one invocation and writes them
// as one CloudWatch Embedded Metric Format log line: metrics without a
// PutMetricData call (which would cost per request).
type Metrics struct {
	mu         sync.Mutex
	namespace  string
	dimensions map[string]string
	values     map[string]float64
	units      map[string]string
}

// NewMetrics starts a metric set with dimensions such as Flow and Connection.
func NewMetrics(namespace string, dimensions map[string]string) *Metrics {
	return &Metrics{namespace: namespace, dimensions: dimensions, values: map[string]float64{}, units: map[string]string{}}
}

// Count adds n to a counter.
func (m *Metrics) Count(name string, n int) { m.add(name, float64(n), "Count") }

// Millis records a duration.
func (m *Metrics) Millis(name string, d time.Duration) {
	m.add(name, float64(d.Microseconds())/1000, "Milliseconds")
}

func (m *Metrics) add(name string, v float64, unit string) {
	m.mu.Lock()
	m.values[name] += v
	m.units[name] = unit
	m.mu.Unlock()
}

// Write emits the EMF line and resets the values.
func (m *Metrics) Write(w io.Writer, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.values) == 0 {
		return nil
	}
	names := make([]string, 0, len(m.values))
	for n := range m.values {
		names = append(names, n)
	}
	sort.Strings(names)
	dims := make([]string, 0, len(m.dimensions))
	for d := range m.dimensions {
		dims = append(dims, d)
	}
	sort.Strings(dims)
	defs := make([]map[string]string, len(names))
	line := map[string]any{}
	for i, n := range names {
		defs[i] = map[string]string{"Name": n, "Unit": m.units[n]}
		line[n] = m.values[n]
	}
	for d, v := range m.dimensions {
		line[d] = v
	}
	line["_aws"] = map[string]any{
		"Timestamp":         now.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{"Namespace": m.namespace, "Dimensions": [][]string{dims}, "Metrics": defs}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	m.values, m.units = map[string]float64{}, map[string]string{}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Logger returns qbridge's structured JSON logger on stdout (Lambda sends
// stdout to CloudWatch Logs), with the flow named on every line.
func Logger(flow string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelInfo})).With("flow", flow)
}
