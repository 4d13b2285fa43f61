package businesscentral_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/qbridge/qbridge/shared/erp"
	"github.com/qbridge/qbridge/shared/erp/businesscentral"
	"github.com/qbridge/qbridge/shared/mapping"
	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/sandbox/bcsandbox"
	"github.com/qbridge/qbridge/shared/secrets"
	"github.com/qbridge/qbridge/shared/spec"
)

type fixture struct {
	sb      *bcsandbox.Sandbox
	adapter *businesscentral.Adapter
	spec    *spec.Spec
	tokens  *int
}

func setup(t testing.TB) *fixture {
	t.Helper()
	sb := bcsandbox.New("app-1", "app-secret")
	tokens := 0
	h := sb.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/token") {
			tokens++
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	sb.SetBase(srv.URL)
	raw, err := os.ReadFile("../../../testdata/specs/businesscentral.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(raw), "https://api.businesscentral.dynamics.com/v2.0/acme-tenant/Production/api/v2.0/companies(6f1e0c4e-0000-0000-0000-000000000001)", sb.BaseURL(), 1)
	doc = strings.Replace(doc, "https://login.microsoftonline.com/acme-tenant/oauth2/v2.0/token", sb.TokenURL(), 1)
	s, err := spec.Parse("bc.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	plans, _ := mapping.CompileSpec(s)
	a, err := businesscentral.New(s, plans, &secrets.Credentials{AlisQIToken: "x", ERPClientID: "app-1", ERPClientSecret: "app-secret", ClientState: "cs-secret-1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{sb: sb, adapter: a, spec: s, tokens: &tokens}
}

func post(body string) erp.Request {
	return erp.Request{Method: "POST", Query: url.Values{}, Header: http.Header{}, Body: []byte(body), ReceivedAt: time.Now()}
}

func TestHandshake(t *testing.T) {
	f := setup(t)
	for _, method := range []string{"GET", "POST"} {
		in, err := f.adapter.Receive(context.Background(), erp.Request{Method: method, Query: url.Values{"validationToken": {"abc-123"}}})
		if err != nil || in.Reply == nil || string(in.Reply.Body) != "abc-123" || in.Reply.Status != 200 || !strings.HasPrefix(in.Reply.ContentType, "text/plain") || len(in.Events) != 0 {
			t.Errorf("%s handshake = %+v, %v", method, in, err)
		}
	}
	if _, err := f.adapter.Receive(context.Background(), erp.Request{Query: url.Values{"validationToken": {"<script>"}}}); model.ErrorCode(err) != model.EInvalid {
		t.Errorf("markup echoed: %v", err)
	}
}

func notice(clientState, resource, changeType string) string {
	b, _ := json.Marshal(map[string]any{"value": []map[string]string{{
		"subscriptionId": "sub1", "clientState": clientState, "expirationDateTime": "2026-12-07T10:00:00Z",
		"resource": resource, "changeType": changeType, "lastModifiedDateTime": "2026-12-04T10:00:00.1234567Z",
	}}})
	return string(b)
}

func TestNotifications(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	item := "api/v2.0/companies(6f1e0c4e-0000-0000-0000-000000000001)/items(26814998-5a0d-ee11-8f6e-6045bdc8c192)"
	in, err := f.adapter.Receive(ctx, post(notice("cs-secret-1", item, "updated")))
	if err != nil {
		t.Fatal(err)
	}
	e := in.Events[0]
	if e.Entity != "items" || e.Key != "26814998-5a0d-ee11-8f6e-6045bdc8c192" || !e.Thin || e.Action != model.ActionUpdated || e.Version != 1796378400123456 || e.Kind != model.KindItem {
		t.Errorf("event = %+v", e)
	}
	custom := "api/acme/quality/v1.0/companies(6f1e0c4e-0000-0000-0000-000000000001)/receiptLots(aaaaaaaa-0000-0000-0000-000000000001)"
	if in, _ := f.adapter.Receive(ctx, post(notice("cs-secret-1", custom, "created"))); in.Events[0].Entity != "receiptLots" || in.Events[0].Action != model.ActionCreated {
		t.Errorf("custom API page = %+v", in.Events[0])
	}
	if in, _ := f.adapter.Receive(ctx, post(notice("cs-secret-1", item, "deleted"))); in.Events[0].Thin || in.Events[0].Action != model.ActionDeleted {
		t.Errorf("deleted = %+v", in.Events[0])
	}
	coll := "api/v2.0/companies(6f1e0c4e-0000-0000-0000-000000000001)/items?$filter=lastModifiedDateTime%20gt%202026-12-04T09:00:00Z"
	if in, err := f.adapter.Receive(ctx, post(notice("cs-secret-1", coll, "collection"))); err != nil || !in.Events[0].Collection || in.Events[0].Version != 1796374800000000 || in.Events[0].Entity != "items" {
		t.Errorf("collection = %+v %v", in.Events, err)
	}
	// An unmapped resource is kept, not refused (a 4xx would delete the subscription).
	if in, err := f.adapter.Receive(ctx, post(notice("cs-secret-1", "api/v2.0/companies(x)/salesOrders(1)", "updated"))); err != nil || in.Events[0].Entity != "" {
		t.Errorf("unmapped = %+v %v", in, err)
	}
}

func TestClientState(t *testing.T) {
	f := setup(t)
	item := "api/v2.0/companies(x)/items(1)"
	for name, body := range map[string]string{
		"wrong":             notice("cs-secret-2", item, "updated"),
		"missing":           notice("", item, "updated"),
		"one forged of two": `{"value":[{"clientState":"cs-secret-1","resource":"` + item + `","changeType":"updated"},{"clientState":"nope","resource":"` + item + `","changeType":"updated"}]}`,
	} {
		if _, err := f.adapter.Receive(context.Background(), post(body)); model.ErrorCode(err) != model.EUnauthorized {
			t.Errorf("%s clientState: %v", name, err)
		}
	}
	for _, body := range []string{`{`, `{"val":[]}`, notice("cs-secret-1", item, "renamed")} {
		if _, err := f.adapter.Receive(context.Background(), post(body)); model.ErrorCode(err) != model.EInvalid {
			t.Errorf("%s: %v", body, err)
		}
	}
}

func TestFetchManyKeysAndPages(t *testing.T) {
	f := setup(t)
	f.sb.PageSize = 7
	var ids []string
	for i := 0; i < 40; i++ {
		rec := f.sb.Put("items", map[string]any{"number": fmt.Sprint(1000 + i), "displayName": "Item"})
		ids = append(ids, rec["id"].(string))
	}
	before := f.sb.Requests()
	got, err := f.adapter.Fetch(context.Background(), f.spec.Entity("items"), append(ids, "00000000-0000-0000-0000-000000000000"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 40 || got[ids[39]]["number"] != "1039" {
		t.Fatalf("fetched %d of 40", len(got))
	}
	// 41 keys at 15 per request, each answered in pages of 7: 3+3+2.
	if n := f.sb.Requests() - before; n != 8 {
		t.Errorf("%d requests, want 8 (filters of 15, 15 and 11 keys, pages of 7)", n)
	}
	if *f.tokens != 1 {
		t.Errorf("%d token requests, want 1 (cached)", *f.tokens)
	}
	var all int
	since := time.Now().Add(-time.Hour).UnixMicro()
	if err := f.adapter.Changed(context.Background(), f.spec.Entity("items"), since, func(recs []map[string]any) error { all += len(recs); return nil }); err != nil || all != 40 {
		t.Errorf("Changed = %d, %v", all, err)
	}
}

func TestAuthFailureIsAnOperatorProblem(t *testing.T) {
	f := setup(t)
	f.sb.ClientSecret = "rotated"
	_, err := f.adapter.Fetch(context.Background(), f.spec.Entity("items"), []string{"x"})
	if model.ErrorCode(err) != model.EUnauthorized {
		t.Errorf("err = %v (%s)", err, model.ErrorCode(err))
	}
	if strings.Contains(err.Error(), "app-secret") {
		t.Error("client secret in error")
	}
}

// FuzzReceive: no notification body panics the parser.
func FuzzReceive(f *testing.F) {
	f.Add(notice("cs-secret-1", "api/v2.0/companies(x)/items(1)", "updated"))
	f.Add(notice("cs-secret-1", "api/v2.0/companies(x)/items?$filter=lastModifiedDateTime%20gt%202026-12-04T09:00:00Z", "collection"))
	fx := setup(f)
	f.Fuzz(func(t *testing.T, body string) {
		in, err := fx.adapter.Receive(context.Background(), post(body))
		if err == nil {
			for _, e := range in.Events {
				if e.Key == "" || e.ID == "" {
					t.Fatalf("event without key or id: %+v", e)
				}
			}
		}
	})
}

func TestSubscriptions(t *testing.T) {
	f := setup(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.URL.Query().Get("validationToken")))
	}))
	defer srv.Close()
	if _, err := f.sb.Subscribe(context.Background(), srv.URL, "api/v2.0/companies(x)/items", "cs-secret-1"); err != nil {
		t.Fatal(err)
	}
	subs, err := f.adapter.Subscriptions(context.Background())
	if err != nil || len(subs) != 1 || subs[0].Resource != "api/v2.0/companies(x)/items" || time.Until(subs[0].Expires) < 71*time.Hour {
		t.Errorf("subscriptions = %+v, %v", subs, err)
	}
}
