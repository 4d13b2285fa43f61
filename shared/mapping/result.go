package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"strings"
)

// Result is a mapped AlisQI result: its fields in spec order.
type Result struct {
	Fields []Field
}

// Field is one AlisQI field and its value.
type Field struct {
	Name  string
	Value Value
}

// Get returns the value of the named field.
func (r *Result) Get(name string) (Value, bool) {
	for _, f := range r.Fields {
		if f.Name == name {
			return f.Value, true
		}
	}
	return Value{}, false
}

// Map returns the result as a JSON-decoded map, for tests and previews.
func (r *Result) Map() map[string]any {
	m := make(map[string]any, len(r.Fields))
	for _, f := range r.Fields {
		m[f.Name] = f.Value.Any()
	}
	return m
}

// AppendJSON appends the result as one JSON object, fields in spec order.
func (r *Result) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	for i, f := range r.Fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.Name)
		b = append(b, ':')
		b = f.Value.appendJSON(b)
	}
	return append(b, '}')
}

// MarshalJSON implements json.Marshaler.
func (r Result) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil), nil }

// Hash returns a stable content hash of the result: the first 128 bits of a
// SHA-256 over a length-prefixed encoding, hex encoded. Equal results hash
// equal whatever produced them, so an unchanged record costs no AlisQI call.
func (r *Result) Hash() string {
	var stack [2048]byte
	b := stack[:0]
	for _, f := range r.Fields {
		b = appendLenPrefixed(b, f.Name)
		b = append(b, byte(f.Value.kind))
		switch f.Value.kind {
		case kindString:
			b = appendLenPrefixed(b, f.Value.s)
		case kindNumber:
			bits := math.Float64bits(f.Value.n)
			for i := 0; i < 8; i++ {
				b = append(b, byte(bits>>(8*i)))
			}
		case kindBool:
			if f.Value.b {
				b = append(b, 1)
			} else {
				b = append(b, 0)
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
