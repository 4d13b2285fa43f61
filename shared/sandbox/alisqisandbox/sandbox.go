// Package alisqisandbox is a SANDBOX: an in-memory stand-in for an AlisQI
// installation, for tests and for the local runner when no real AlisQI is
// configured. Production code never imports it (a test in functions/
// checks). It enforces what the real API does as ../shared/API-NOTES.md
// describes it: Bearer auth, 30 calls per minute per installation by
// default with the X-RateLimit-* headers and 429, {"error": "..."} bodies,
// storeResults as an all-or-nothing call with keyField upsert, editOnly and
// addListOptions, and getResults with filter, sort, fields and paging. It can
// inject faults (5xx, 429, latency, a timeout after the write was applied)
// and records every call.
package alisqisandbox

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/qbridge/qbridge/shared/alisqi"
)

// Faults are injected failures; rates are probabilities per call.
type Faults struct {
	ServerErrorRate float64       // 503 before anything is applied
	ThrottleRate    float64       // 429 with RetryAfter, beyond the real limit
	ThrottleNext    int           // the next N calls get a 429 with RetryAfter
	RetryAfter      time.Duration // for injected 429s; default 1s
	Latency         time.Duration // added to every call
	// TimeoutAfterCommitRate: the write is applied, then the answer is held
	// for HangFor (longer than the client waits), so the client sees a
	// timeout for a write that happened.
	TimeoutAfterCommitRate float64
	HangFor                time.Duration
}

// Call is one recorded API call.
type Call struct {
	Time     time.Time
	Method   string
	Name     string // getAllSets, storeResults, ...
	SetID    int
	Results  int
	KeyField string
	Status   int
	Injected string // the fault injected, if any
}

type set struct {
	def     alisqi.SetDefinition
	typ     string
	results []map[string]any
}

// Server is one sandbox installation.
type Server struct {
	mu        sync.Mutex
	token     string
	perMinute int
	window    []time.Time
	sets      map[int]*set
	faults    Faults
	rng       *rand.Rand
	calls     []Call
	nextID    int
	now       func() time.Time
}

// New returns a sandbox that accepts token, limited to 30 calls a minute.
func New(token string) *Server {
	return &Server{token: token, perMinute: 30, sets: map[int]*set{}, rng: rand.New(rand.NewPCG(1, 2)), nextID: 1000, now: time.Now}
}

// SetLimit sets the calls allowed per minute; 0 turns the limit off.
func (s *Server) SetLimit(perMinute int) { s.mu.Lock(); s.perMinute = perMinute; s.mu.Unlock() }

// SetFaults sets the injected faults, with a seed for repeatable runs.
func (s *Server) SetFaults(f Faults, seed uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.RetryAfter == 0 {
		f.RetryAfter = time.Second
	}
	s.faults, s.rng = f, rand.New(rand.NewPCG(seed, seed+1))
}

// AddSet creates a set. With no fields, any field is accepted; with fields,
// results are validated against them (types text, number, date, list).
func (s *Server) AddSet(def alisqi.SetDefinition, typ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sets[def.ID] = &set{def: def, typ: typ}
}

// Results returns a copy of a set's results.
func (s *Server) Results(setID int) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sets[setID]
	if st == nil {
		return nil
	}
	out := make([]map[string]any, len(st.results))
	for i, r := range st.results {
		out[i] = copyResult(r)
	}
	return out
}

// Result returns the result of setID whose field equals value.
func (s *Server) Result(setID int, field string, value any) (map[string]any, bool) {
	for _, r := range s.Results(setID) {
		if equal(r[field], value) {
			return r, true
		}
	}
	return nil, false
}

// Calls returns the calls made so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CountCalls counts calls by name ("" counts all).
func (s *Server) CountCalls(name string) int {
	n := 0
	for _, c := range s.Calls() {
		if name == "" || c.Name == name {
			n++
		}
	}
	return n
}

func copyResult(r map[string]any) map[string]any {
	c := make(map[string]any, len(r))
	for k, v := range r {
		c[k] = v
	}
	return c
}

// ServeHTTP implements http.Handler at the API root (/api/...).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	call := Call{Time: s.now(), Method: r.Method, Name: name}
	status, body, hang := s.handle(r, &call)
	if hang > 0 {
		select {
		case <-r.Context().Done():
		case <-time.After(hang):
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Server) handle(r *http.Request, call *Call) (int, []byte, time.Duration) {
	s.mu.Lock()
	defer func() {
		s.calls = append(s.calls, *call)
		s.mu.Unlock()
	}()
	fail := func(status int, format string, args ...any) (int, []byte, time.Duration) {
		call.Status = status
		b, _ := json.Marshal(map[string]string{"error": fmt.Sprintf(format, args...)})
		return status, b, 0
	}
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		return fail(401, "Unauthorized")
	}
	if s.faults.Latency > 0 {
		s.mu.Unlock()
		time.Sleep(s.faults.Latency)
		s.mu.Lock()
	}
	if wait, ok := s.admit(); !ok {
		call.Injected = "limit"
		s.rateHeaders(r, 0, wait)
		return fail(429, "Too many requests")
	}
	remaining := s.remaining()
	s.rateHeaders(r, remaining, 0)
	throttle := s.faults.ThrottleNext > 0
	if throttle {
		s.faults.ThrottleNext--
	}
	if throttle || (s.faults.ThrottleRate > 0 && s.rng.Float64() < s.faults.ThrottleRate) {
		call.Injected = "429"
		s.rateHeaders(r, 0, s.faults.RetryAfter)
		return fail(429, "Too many requests")
	}
	if s.faults.ServerErrorRate > 0 && s.rng.Float64() < s.faults.ServerErrorRate {
		call.Injected = "5xx"
		return fail(503, "Service temporarily unavailable")
	}
	var status int
	var body []byte
	switch call.Name {
	case "getAllSets":
		status, body = s.getAllSets()
	case "getSetDefinition":
		status, body = s.getSetDefinition(r)
	case "getResults":
		status, body = s.getResults(r, call)
	case "storeResults":
		if r.Method != http.MethodPost {
			return fail(405, "storeResults needs POST")
		}
		status, body = s.storeResults(r, call)
		if status == 200 && s.faults.TimeoutAfterCommitRate > 0 && s.rng.Float64() < s.faults.TimeoutAfterCommitRate {
			call.Injected = "timeoutAfterCommit"
			call.Status = status
			return status, body, max(s.faults.HangFor, 35*time.Second)
		}
	default:
		return fail(404, "Unknown API call %s", call.Name)
	}
	call.Status = status
	return status, body, 0
}

// admit applies the sliding one-minute window; it answers how long until a
// call would be admitted when the limit is reached.
func (s *Server) admit() (time.Duration, bool) {
	if s.perMinute <= 0 {
		return 0, true
	}
	now := s.now()
	cut := 0
	for cut < len(s.window) && now.Sub(s.window[cut]) >= time.Minute {
		cut++
	}
	s.window = s.window[cut:]
	if len(s.window) >= s.perMinute {
		return time.Minute - now.Sub(s.window[0]), false
	}
	s.window = append(s.window, now)
	return 0, true
}

func (s *Server) remaining() int {
	if s.perMinute <= 0 {
		return 1 << 20
	}
	return s.perMinute - len(s.window)
}

// rateHeaders are set on the request's response writer through the request
// context's header map (set by wrap).
func (s *Server) rateHeaders(r *http.Request, remaining int, retry time.Duration) {
	h, _ := r.Context().Value(headersKey{}).(http.Header)
	if h == nil {
		return
	}
	limit := s.perMinute
	if limit <= 0 {
		limit = remaining
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
}

type headersKey struct{}

// Handler returns the sandbox as an http.Handler that also sets the rate
// headers on every answer.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		r = r.WithContext(contextWith(ctx, w.Header()))
		s.ServeHTTP(w, r)
	})
}

func (s *Server) getAllSets() (int, []byte) {
	ids := make([]int, 0, len(s.sets))
	for id := range s.sets {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	out := make([]alisqi.Set, 0, len(ids))
	for _, id := range ids {
		out = append(out, alisqi.Set{ID: id, Name: s.sets[id].def.Name, Type: s.sets[id].typ})
	}
	b, _ := json.Marshal(out)
	return 200, b
}

func (s *Server) lookup(r *http.Request) (*set, int, []byte) {
	id, err := strconv.Atoi(r.FormValue("setId"))
	if err != nil {
		return nil, 400, errorBody("Parameter setId is required")
	}
	st := s.sets[id]
	if st == nil {
		return nil, 404, errorBody(fmt.Sprintf("Set %d not found", id))
	}
	return st, 0, nil
}

func errorBody(msg string) []byte {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return b
}

func (s *Server) getSetDefinition(r *http.Request) (int, []byte) {
	st, status, body := s.lookup(r)
	if st == nil {
		return status, body
	}
	b, _ := json.Marshal(st.def)
	return 200, b
}

func equal(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}
