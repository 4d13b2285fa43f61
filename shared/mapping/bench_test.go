package mapping

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// benchFields is a realistic 30-field item mapping: plain copies, trims,
// case changes, translations, numbers, rounding, dates and a template.
func benchFields() string {
	var b strings.Builder
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&b, "      - {target: text%d_, source: text%d}\n", i, i)
	}
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&b, "      - {target: code%d_, source: code%d, transforms: [trim, upper]}\n", i, i)
	}
	for i := 0; i < 4; i++ {
		fmt.Fprintf(&b, "      - {target: unit%d_, source: unit%d, translate: units}\n", i, i)
	}
	for i := 0; i < 4; i++ {
		fmt.Fprintf(&b, "      - {target: num%d_, source: num%d, transforms: [number, {round: 2}]}\n", i, i)
	}
	b.WriteString("      - {target: date0_, source: modified, transforms: [date]}\n")
	b.WriteString("      - {target: date1_, source: posted, transforms: [{date: {dateOnly: true}}]}\n")
	b.WriteString("      - {target: line_, template: '{{code0}}-{{num0}}'}\n")
	b.WriteString("      - {target: flag_, source: flag, translate: flags}\n")
	return b.String() // 29 fields + the key = 30
}

func benchRecord() []byte {
	rec := map[string]any{"id": "5d115c9c-44e3-ea11-bb43-000d3a2feca1", "modified": "2024-03-01T10:00:00.123Z", "posted": "2024-03-01", "flag": true}
	for i := 0; i < 12; i++ {
		rec[fmt.Sprintf("text%d", i)] = fmt.Sprintf("Some descriptive text %d", i)
	}
	for i := 0; i < 5; i++ {
		rec[fmt.Sprintf("code%d", i)] = fmt.Sprintf(" c-%d ", i)
	}
	for i := 0; i < 4; i++ {
		rec[fmt.Sprintf("unit%d", i)] = "PCS"
		rec[fmt.Sprintf("num%d", i)] = "1234.5678"
	}
	b, _ := json.Marshal(rec)
	return b
}

// BenchmarkMap measures mapping one decoded 30-field record (the decode is
// measured separately by BenchmarkDecodeAndMap).
func BenchmarkMap(b *testing.B) {
	s := specWith(b, benchFields())
	plan, err := Compile(s, s.Entity("e"))
	if err != nil {
		b.Fatal(err)
	}
	var rec any
	if err := json.Unmarshal(benchRecord(), &rec); err != nil {
		b.Fatal(err)
	}
	if res, err := plan.Map(rec); err != nil || res.Len() != 30 {
		b.Fatalf("map: %d fields, %v", res.Len(), err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := plan.Map(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeAndMap adds encoding/json decoding of the raw record.
func BenchmarkDecodeAndMap(b *testing.B) {
	s := specWith(b, benchFields())
	plan, _ := Compile(s, s.Entity("e"))
	raw := benchRecord()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var rec any
		if err := json.Unmarshal(raw, &rec); err != nil {
			b.Fatal(err)
		}
		if _, err := plan.Map(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHash measures the content hash of a mapped 30-field result.
func BenchmarkHash(b *testing.B) {
	s := specWith(b, benchFields())
	plan, _ := Compile(s, s.Entity("e"))
	var rec any
	_ = json.Unmarshal(benchRecord(), &rec)
	res, _ := plan.Map(rec)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = res.Hash()
	}
}
