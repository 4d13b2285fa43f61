package mapping

import (
	"strconv"
)

// Value is one AlisQI field value: text, a number, a boolean or null. A
// small union instead of `any` keeps mapping free of per-field allocations.
type Value struct {
	s    string
	n    float64 // the number, or 1/0 for a boolean
	kind valueKind
}

type valueKind uint8

const (
	kindNull valueKind = iota
	kindString
	kindNumber
	kindBool
)

// String, Number, Bool and Null build values.
func String(s string) Value  { return Value{kind: kindString, s: s} }
func Number(n float64) Value { return Value{kind: kindNumber, n: n} }
func Bool(b bool) Value {
	if b {
		return Value{kind: kindBool, n: 1}
	}
	return Value{kind: kindBool}
}
func Null() Value { return Value{} }

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.kind == kindNull }

// Any returns v as a JSON-decoded Go value (string, float64, bool or nil).
func (v Value) Any() any {
	switch v.kind {
	case kindString:
		return v.s
	case kindNumber:
		return v.n
	case kindBool:
		return v.n != 0
	}
	return nil
}

// Text renders v as text, the way AlisQI shows it.
func (v Value) Text() string {
	switch v.kind {
	case kindString:
		return v.s
	case kindNumber:
		return strconv.FormatFloat(v.n, 'f', -1, 64)
	case kindBool:
		return strconv.FormatBool(v.n != 0)
	}
	return ""
}

// fromAny converts a decoded JSON scalar; ok is false for objects and arrays.
func fromAny(x any) (Value, bool) {
	switch t := x.(type) {
	case string:
		return String(t), true
	case float64:
		return Number(t), true
	case bool:
		return Bool(t), true
	case nil:
		return Null(), true
	case int:
		return Number(float64(t)), true
	case int64:
		return Number(float64(t)), true
	}
	return Value{}, false
}

// describe says what a value is, for error messages.
func describe(x any) string {
	switch t := x.(type) {
	case nil:
		return "null"
	case string:
		if t == "" {
			return "empty text"
		}
		return strconv.Quote(truncateRunes(t, 40))
	case float64, int, int64, bool:
		v, _ := fromAny(t)
		return v.Text()
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return "an unknown value"
}

func truncateRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// appendJSON writes v as JSON.
func (v Value) appendJSON(b []byte) []byte {
	switch v.kind {
	case kindString:
		return appendJSONString(b, v.s)
	case kindNumber:
		return strconv.AppendFloat(b, v.n, 'f', -1, 64)
	case kindBool:
		return strconv.AppendBool(b, v.n != 0)
	}
	return append(b, "null"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does (without HTML escaping).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
