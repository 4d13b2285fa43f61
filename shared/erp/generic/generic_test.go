package generic

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/qbridge/qbridge/shared/erp"
	"github.com/qbridge/qbridge/shared/mapping"
	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/secrets"
	"github.com/qbridge/qbridge/shared/spec"
)

const doc = `version: 1
connection: acme-generic
erp: {system: generic}
alisqi: {}
entities:
  items:
    kind: item
    resource: items
    key: id
    version: modified
    alisqi: {set: 1, keyField: code_}
    fields: [{target: code_, source: code, mandatory: true}]
`

func adapter(t testing.TB, base string) *Adapter {
	t.Helper()
	d := doc
	if base != "" {
		d = strings.Replace(d, "erp: {system: generic}", "erp: {system: generic, baseUrl: \""+base+"\"}", 1)
	}
	s, err := spec.Parse("g.yaml", []byte(d))
	if err != nil {
		t.Fatal(err)
	}
	plans, err := mapping.CompileSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return New(s, plans, &secrets.Credentials{AlisQIToken: "x", WebhookSecret: "whsec-1", ERPClientSecret: "erp-s"}, nil)
}

var now = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func signed(body string, at time.Time, secret secrets.Secret) erp.Request {
	ts, sig := Sign(secret, at, []byte(body))
	h := http.Header{}
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, sig)
	return erp.Request{Method: "POST", Header: h, Body: []byte(body), ReceivedAt: now}
}

func TestVerify(t *testing.T) {
	a := adapter(t, "")
	a.now = func() time.Time { return now }
	body := `{"events":[{"entity":"items","record":{"id":"1","code":"A","modified":"2026-12-04T09:00:00Z"}}]}`
	tests := []struct {
		name string
		req  erp.Request
		want string // "" = accepted; else the error code and text
	}{
		{"valid", signed(body, now, "whsec-1"), ""},
		{"valid, rotated secrets", func() erp.Request {
			r := signed(body, now, "whsec-1")
			_, old := Sign("whsec-0", now, []byte(body))
			r.Header.Set(HeaderSignature, old+", "+r.Header.Get(HeaderSignature))
			return r
		}(), ""},
		{"tampered body", func() erp.Request {
			r := signed(body, now, "whsec-1")
			r.Body = []byte(strings.Replace(body, `"A"`, `"B"`, 1))
			return r
		}(), "unauthorized: signature does not match"},
		{"wrong secret", signed(body, now, "whsec-2"), "unauthorized: signature does not match"},
		{"replayed later", signed(body, now.Add(-6*time.Minute), "whsec-1"), "unauthorized: timestamp is outside"},
		{"from the future", signed(body, now.Add(6*time.Minute), "whsec-1"), "unauthorized: timestamp is outside"},
		{"missing signature", erp.Request{Header: http.Header{}, Body: []byte(body)}, "unauthorized: missing X-Qbridge-Timestamp or X-Qbridge-Signature"},
		{"garbage timestamp", func() erp.Request {
			r := signed(body, now, "whsec-1")
			r.Header.Set(HeaderTimestamp, "yesterday")
			return r
		}(), "unauthorized: X-Qbridge-Timestamp must be Unix seconds"},
	}
	for _, tt := range tests {
		_, err := a.Receive(context.Background(), tt.req)
		got := ""
		if err != nil {
			got = model.ErrorCode(err) + ": " + model.ErrorMessage(err)
		}
		if (tt.want == "") != (got == "") || !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestEvents(t *testing.T) {
	a := adapter(t, "")
	a.now = func() time.Time { return now }
	in, err := a.Receive(context.Background(), signed(`{"events":[
		{"entity":"items","action":"created","record":{"id":"1","code":"A","modified":"2026-12-04T09:00:00Z"}},
		{"entity":"items","action":"updated","key":"2","version":"2026-12-04T09:30:00Z"},
		{"entity":"items","action":"deleted","key":"3"}]}`, now, "whsec-1"))
	if err != nil {
		t.Fatal(err)
	}
	evs := in.Events
	if len(evs) != 3 || in.Reply != nil {
		t.Fatalf("events = %+v", in)
	}
	if e := evs[0]; e.Key != "1" || e.Thin || e.Version != 1796374800000000 || e.Action != model.ActionCreated || e.Kind != model.KindItem || e.Connection != "acme-generic" || len(e.Payload) == 0 || e.ID == "" {
		t.Errorf("full event = %+v", e)
	}
	if e := evs[1]; e.Key != "2" || !e.Thin || e.Version == 0 {
		t.Errorf("thin event = %+v", e)
	}
	if e := evs[2]; e.Thin || e.Action != model.ActionDeleted {
		t.Errorf("delete = %+v", e)
	}
	// The same change delivered twice gets the same id.
	again, _ := a.Receive(context.Background(), signed(`{"entity":"items","action":"created","record":{"id":"1","code":"A","modified":"2026-12-04T09:00:00Z"}}`, now, "whsec-1"))
	if again.Events[0].ID != evs[0].ID {
		t.Error("event ids are not stable")
	}
}

func TestMalformedIsPrecise(t *testing.T) {
	a := adapter(t, "")
	a.now = func() time.Time { return now }
	for body, want := range map[string]string{
		`{"events":[`:   "body is not JSON",
		`{"events":[]}`: "events is empty",
		`{"events":[{"entity":"itemz","key":"1"}]}`:                                                       `events[0]: unknown entity "itemz"; this connection has items`,
		`{"events":[{"entity":"items","action":"posted","key":"1"}]}`:                                     `events[0]: action "posted" is not one of`,
		`{"events":[{"entity":"items"}]}`:                                                                 "events[0]: needs a record (a full event) or a key",
		`{"events":[{"entity":"items","record":{"code":"A"}}]}`:                                           "events[0]: record: items: key id is missing",
		`{"events":[{"entity":"items","record":{"id":"1"}}]}`:                                             "events[0]: record: items: version modified is missing",
		`{"events":[{"entity":"items","record":[1]}]}`:                                                    "events[0]: record must be a JSON object",
		`{"events":[{"entity":"items","key":"1","colour":"red"}]}`:                                        `events[0]: unknown field "colour"`,
		`{"events":[{"entity":"items","key":"9","record":{"id":"1","modified":"2026-01-01T00:00:00Z"}}]}`: `key "9" does not match`,
	} {
		_, err := a.Receive(context.Background(), signed(body, now, "whsec-1"))
		if model.ErrorCode(err) != model.EInvalid || !strings.Contains(model.ErrorMessage(err), want) {
			t.Errorf("%s: %v (code %s), want %q", body, err, model.ErrorCode(err), want)
		}
	}
}

func TestFetch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer erp-s" || r.URL.Path != "/items" {
			w.WriteHeader(401)
			return
		}
		var vals []string
		for _, k := range r.URL.Query()["key"] {
			if k != "gone" {
				vals = append(vals, `{"id":"`+k+`","code":"C`+k+`","modified":"2026-12-04T09:00:00Z"}`)
			}
		}
		_, _ = w.Write([]byte(`{"value":[` + strings.Join(vals, ",") + `]}`))
	}))
	defer srv.Close()
	a := adapter(t, srv.URL)
	got, err := a.Fetch(context.Background(), a.spec.Entity("items"), []string{"1", "2", "gone"})
	if err != nil || len(got) != 2 || got["2"]["code"] != "C2" {
		t.Errorf("Fetch = %v, %v", got, err)
	}
	if _, err := adapter(t, "").Fetch(context.Background(), a.spec.Entity("items"), []string{"1"}); err == nil {
		t.Error("thin fetch without erp.baseUrl accepted")
	}
}

// FuzzReceive: no body or header panics the parser.
func FuzzReceive(f *testing.F) {
	f.Add(`{"events":[{"entity":"items","record":{"id":"1","code":"A","modified":"2026-12-04T09:00:00Z"}}]}`)
	f.Add(`{"entity":"items","key":"1"}`)
	f.Add(`[]`)
	a := adapter(f, "")
	a.now = func() time.Time { return now }
	f.Fuzz(func(t *testing.T, body string) {
		in, err := a.Receive(context.Background(), signed(body, now, "whsec-1"))
		if err != nil {
			if c := model.ErrorCode(err); c != model.EInvalid {
				t.Fatalf("code %s for a signed body: %v", c, err)
			}
			return
		}
		for _, e := range in.Events {
			if e.Key == "" || e.Entity == "" || e.ID == "" {
				t.Fatalf("accepted an event without key, entity or id: %+v", e)
			}
		}
	})
}
