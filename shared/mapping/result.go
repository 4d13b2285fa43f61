package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"strings"
)

// Result is a mapped AlisQI result: its field names (shared with the plan
// that made it, never modified) and values, in spec order.
type Result struct {
	names  []string
	values []Value
}

// NewResult builds a result from parallel name and value slices.
func NewResult(names []string, values []Value) Result {
	if len(names) != len(values) {
		panic("mapping.NewResult: names and values differ in length")
	}
	return Result{names: names, values: values}
}

// Len is the number of fields.
func (r *Result) Len() int { return len(r.values) }

// Name returns the name of field i.
func (r *Result) Name(i int) string { return r.names[i] }

// Value returns the value of field i.
func (r *Result) Value(i int) Value { return r.values[i] }

// Get returns the value of the named field.
func (r *Result) Get(name string) (Value, bool) {
	for i, n := range r.names {
		if n == name {
			return r.values[i], true
		}
	}
	return Value{}, false
}

// Map returns the result as a JSON-decoded map, for tests and previews.
func (r *Result) Map() map[string]any {
	m := make(map[string]any, len(r.values))
	for i, v := range r.values {
		m[r.names[i]] = v.Any()
	}
	return m
}

// AppendJSON appends the result as one JSON object, fields in spec order.
func (r *Result) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	for i, v := range r.values {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, r.names[i])
		b = append(b, ':')
		b = v.appendJSON(b)
	}
	return append(b, '}')
}

// MarshalJSON implements json.Marshaler.
func (r Result) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil), nil }

// Hash returns a stable content hash of the result: the first 128 bits of a
// SHA-256 over a length-prefixed encoding, hex encoded. Equal results hash
// equal whatever produced them, so an unchanged record costs no AlisQI call.
func (r Result) Hash() string {
	var stack [2048]byte
	b := stack[:0]
	for i, v := range r.values {
		b = appendLenPrefixed(b, r.names[i])
		b = append(b, byte(v.kind))
		switch v.kind {
		case kindString:
			b = appendLenPrefixed(b, v.s)
		case kindNumber, kindBool:
			bits := math.Float64bits(v.n)
			for i := 0; i < 8; i++ {
				b = append(b, byte(bits>>(8*i)))
			}
		}
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func appendLenPrefixed(b []byte, s string) []byte {
	n := len(s)
	b = append(b, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	return append(b, s...)
}

// FieldError is one field that could not be mapped.
type FieldError struct {
	Field    string `json:"field"`
	Source   string `json:"source,omitempty"`
	Expected string `json:"expected"`
	Found    string `json:"found"`
}

// Error lists every field of one record that could not be mapped.
type Error struct {
	Entity string       `json:"entity"`
	Key    string       `json:"key,omitempty"`
	Fields []FieldError `json:"fields"`
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("cannot map ")
	b.WriteString(e.Entity)
	if e.Key != "" {
		b.WriteString(" ")
		b.WriteString(e.Key)
	}
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		if f.Source != "" {
			b.WriteString(" (from ")
			b.WriteString(f.Source)
			b.WriteString(")")
		}
		b.WriteString(": expected ")
		b.WriteString(f.Expected)
		b.WriteString(", found ")
		b.WriteString(f.Found)
	}
	return b.String()
}
