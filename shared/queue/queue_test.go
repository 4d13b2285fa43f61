package queue

import (
	"bytes"
	"errors"
	"testing"
)

func TestBatches(t *testing.T) {
	var msgs []Outgoing
	for i := 0; i < 25; i++ {
		msgs = append(msgs, Outgoing{Body: []byte("x")})
	}
	if b := Batches(msgs); len(b) != 3 || len(b[0]) != 10 || len(b[2]) != 5 {
		t.Errorf("25 small messages → %d batches", len(b))
	}
	big := Outgoing{Body: bytes.Repeat([]byte("a"), 100<<10)}
	if b := Batches([]Outgoing{big, big, big, big}); len(b) != 2 || len(b[0]) != 2 {
		t.Errorf("4 × 100 KB → %d batches of %d", len(b), len(b[0]))
	}
	huge := Outgoing{Body: bytes.Repeat([]byte("a"), MaxMessageBytes+1)}
	var tl *TooLargeError
	if err := Check([]Outgoing{big, huge}); !errors.As(err, &tl) || tl.Index != 1 {
		t.Errorf("Check = %v", err)
	}
	if err := Check([]Outgoing{big}); err != nil {
		t.Error(err)
	}
	withAttrs := Outgoing{Body: bytes.Repeat([]byte("a"), MaxMessageBytes-10), Attributes: map[string]string{AttrReason: "mapping failed"}}
	if Check([]Outgoing{withAttrs}) == nil {
		t.Error("attributes do not count toward the size")
	}
}
