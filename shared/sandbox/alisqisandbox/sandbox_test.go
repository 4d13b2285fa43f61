package alisqisandbox

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qbridge/qbridge/shared/alisqi"
)

func do(t *testing.T, h http.Handler, method, target, token string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	r := httptest.NewRequest(method, target, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestDefaultLimitIs30PerMinute(t *testing.T) {
	s := New("t")
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	h := s.Handler()
	for i := 0; i < 30; i++ {
		w := do(t, h, "GET", "/api/getAllSets", "t", nil)
		if w.Code != 200 || w.Header().Get("X-RateLimit-Remaining") != strconv.Itoa(29-i) || w.Header().Get("X-RateLimit-Limit") != "30" {
			t.Fatalf("call %d: %d remaining %q", i, w.Code, w.Header().Get("X-RateLimit-Remaining"))
		}
		now = now.Add(time.Second)
	}
	w := do(t, h, "GET", "/api/getAllSets", "t", nil)
	if w.Code != 429 || w.Header().Get("X-RateLimit-Retry-After") != "30" || !strings.Contains(w.Body.String(), `"error":"Too many requests"`) {
		t.Fatalf("31st call: %d %q %s", w.Code, w.Header().Get("X-RateLimit-Retry-After"), w.Body)
	}
	now = now.Add(30 * time.Second) // the first call leaves the window
	if w := do(t, h, "GET", "/api/getAllSets", "t", nil); w.Code != 200 {
		t.Fatalf("after the window: %d", w.Code)
	}
	if w := do(t, h, "GET", "/api/getAllSets", "wrong", nil); w.Code != 401 || !strings.Contains(w.Body.String(), "Unauthorized") {
		t.Errorf("bad token: %d", w.Code)
	}
}

func TestStoreIsAllOrNothingAndTyped(t *testing.T) {
	s := New("t")
	s.SetLimit(0)
	s.AddSet(alisqi.SetDefinition{ID: 7, Fields: []alisqi.FieldDef{{Name: "k_", Type: "text"}, {Name: "n_", Type: "number"}, {Name: "d_", Type: "date"}}}, "measurementSet")
	h := s.Handler()
	store := func(results string) *httptest.ResponseRecorder {
		return do(t, h, "POST", "/api/storeResults", "t", url.Values{"setId": {"7"}, "keyField": {"k_"}, "results": {results}})
	}
	for _, bad := range []string{
		`[{"k_":"a","n_":1},{"k_":"b","n_":"many"}]`,
		`[{"k_":"a","d_":"04/03/2024"}]`,
		`[{"k_":"a","x_":1}]`,
		`[{"n_":1}]`,
		`{"k_":"a"}`,
	} {
		if w := store(bad); w.Code != 400 || !strings.Contains(w.Body.String(), `"error"`) {
			t.Errorf("%s: %d %s", bad, w.Code, w.Body)
		}
	}
	if len(s.Results(7)) != 0 {
		t.Fatal("a rejected call applied something")
	}
	if w := store(`[{"k_":"a","n_":1,"d_":"2024-03-04 10:00:00"},{"k_":"a","n_":2}]`); w.Code != 200 {
		t.Fatalf("good call: %d %s", w.Code, w.Body)
	}
	if rs := s.Results(7); len(rs) != 1 || rs[0]["n_"] != 2.0 || rs[0]["lastModificationDate"] == nil || rs[0]["@id"] == nil {
		t.Errorf("results = %v", rs)
	}
	if w := do(t, h, "POST", "/api/storeResults", "t", url.Values{"setId": {"99"}, "results": {"[]"}}); w.Code != 404 {
		t.Errorf("unknown set: %d", w.Code)
	}
}
