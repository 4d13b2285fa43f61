package envelope

import (
	"fmt"
	"strings"
	"testing"

	"github.com/qbridge/qbridge/shared/model"
)

func TestPackUnpack(t *testing.T) {
	var evs []model.ChangeEvent
	for i := 0; i < 500; i++ {
		evs = append(evs, model.ChangeEvent{ID: fmt.Sprint(i), Connection: "acme", Entity: "items", Key: fmt.Sprintf("%036d", i), Action: model.ActionUpdated, Thin: true,
			Resource: "api/v2.0/companies(6f1e0c4e-0000-0000-0000-000000000001)/items(26814998-5a0d-ee11-8f6e-6045bdc8c192)"})
	}
	msgs, err := Pack("acme", evs, map[string]string{"x": "y"})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) < 2 || len(msgs) > 4 {
		t.Errorf("500 thin events in %d messages", len(msgs))
	}
	var back []model.ChangeEvent
	for _, m := range msgs {
		if len(m.Body) > ChunkBytes || m.Attributes[AttrConnection] != "acme" || m.Attributes["x"] != "y" {
			t.Errorf("message of %d bytes, attrs %v", len(m.Body), m.Attributes)
		}
		got, err := Unpack(m.Body)
		if err != nil || got.Retry != nil {
			t.Fatal(err)
		}
		back = append(back, got.Events...)
	}
	if len(back) != 500 || back[499].ID != "499" || back[0].Resource != evs[0].Resource {
		t.Errorf("round trip lost events: %d", len(back))
	}
	big := model.ChangeEvent{ID: "big", Payload: []byte(`"` + strings.Repeat("x", 100<<10) + `"`)}
	if msgs, _ := Pack("acme", []model.ChangeEvent{big, big}, nil); len(msgs) != 2 {
		t.Errorf("two 100 KB events in %d messages", len(msgs))
	}
	retry, _ := PackRetry("acme", evs[:2], nil, &Retry{Owner: "m-1", Attempt: 2, Error: "AlisQI 503"})
	if got, err := Unpack(retry[0].Body); err != nil || got.Retry == nil || got.Retry.Owner != "m-1" || got.Retry.Attempt != 2 || len(got.Events) != 2 {
		t.Errorf("retry envelope = %+v %v", got, err)
	}
	for _, bad := range []string{`{`, `{"v":2,"events":[]}`, `[]`} {
		if _, err := Unpack([]byte(bad)); err == nil {
			t.Errorf("Unpack(%s) accepted", bad)
		}
	}
}
