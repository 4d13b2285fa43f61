package bcsandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/qbridge/qbridge/shared/model"
)

var companyPath = regexp.MustCompile(`companies\([^)]*\)/`)

// Handler serves the token endpoint, the OData API and subscriptions.
func (s *Sandbox) Handler() http.Handler {
	return http.HandlerFunc(s.serve)
}

func odataError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (s *Sandbox) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
		s.token(w, r)
		return
	}
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	exp, ok := s.tokens[auth]
	valid := ok && s.now().Before(exp)
	if valid {
		s.requests++
	}
	s.mu.Unlock()
	if !valid {
		odataError(w, 401, "Authentication_InvalidCredentials", "The credentials provided are incorrect")
		return
	}
	prefix := fmt.Sprintf("/v2.0/%s/%s/", s.Tenant, s.Environment)
	path, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		odataError(w, 404, "BadRequest_NotFound", "No HTTP resource was found that matches the request URI")
		return
	}
	if strings.HasPrefix(path, "api/v2.0/subscriptions") {
		s.subscriptions(w, r, strings.TrimPrefix(path, "api/v2.0/subscriptions"))
		return
	}
	path = companyPath.ReplaceAllString(path, "")
	col, key := path, ""
	if k := strings.LastIndexByte(path, '('); k > 0 && strings.HasSuffix(path, ")") {
		col, key = path[:k], strings.Trim(path[k+1:len(path)-1], "'")
	}
	col = normalize(col)
	switch {
	case r.Method == http.MethodGet && key == "":
		s.list(w, r, col)
	case r.Method == http.MethodGet:
		if rec, ok := s.Record(col, key); ok {
			writeJSON(w, 200, rec)
		} else {
			odataError(w, 404, "Internal_RecordNotFound", "The record does not exist")
		}
	case r.Method == http.MethodPatch && key != "":
		s.patch(w, r, col, key)
	default:
		odataError(w, 405, "BadRequest_MethodNotAllowed", "method not allowed")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Sandbox) token(w http.ResponseWriter, r *http.Request) {
	if r.FormValue("grant_type") != "client_credentials" || r.FormValue("client_id") != s.ClientID || r.FormValue("client_secret") != s.ClientSecret {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`))
		return
	}
	tok := "sandbox-access-" + newGUID()
	s.mu.Lock()
	s.tokens[tok] = s.now().Add(time.Hour)
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"token_type": "Bearer", "expires_in": 3599, "access_token": tok})
}

func (s *Sandbox) list(w http.ResponseWriter, r *http.Request, col string) {
	filter, err := parseFilter(r.URL.Query().Get("$filter"))
	if err != nil {
		odataError(w, 400, "BadRequest", err.Error())
		return
	}
	skip, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
	s.mu.Lock()
	var matched []map[string]any
	for _, rec := range s.records[col] {
		if filter.match(rec) {
			matched = append(matched, copyMap(rec))
		}
	}
	page := s.PageSize
	base := s.base
	s.mu.Unlock()
	sort.SliceStable(matched, func(i, j int) bool {
		a, b := fmt.Sprint(matched[i]["lastModifiedDateTime"]), fmt.Sprint(matched[j]["lastModifiedDateTime"])
		if a != b {
			return a < b
		}
		return fmt.Sprint(matched[i]["id"]) < fmt.Sprint(matched[j]["id"])
	})
	out := map[string]any{"@odata.context": base + r.URL.Path + "/$metadata", "value": []map[string]any{}}
	if skip < len(matched) {
		end := min(len(matched), skip+page)
		out["value"] = matched[skip:end]
		if end < len(matched) {
			q := r.URL.Query()
			q.Set("$skiptoken", strconv.Itoa(end))
			out["@odata.nextLink"] = base + r.URL.Path + "?" + q.Encode()
		}
	}
	writeJSON(w, 200, out)
}

func (s *Sandbox) patch(w http.ResponseWriter, r *http.Request, col, key string) {
	ifMatch := r.Header.Get("If-Match")
	if ifMatch == "" {
		odataError(w, 400, "BadRequest", "Could not validate the client concurrency token required by the service. Please provide a valid token in the client request.")
		return
	}
	var changes map[string]any
	if err := json.NewDecoder(r.Body).Decode(&changes); err != nil {
		odataError(w, 400, "BadRequest", "invalid JSON")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range s.records[col] {
		if rec["id"] != key {
			continue
		}
		if ifMatch != "*" && ifMatch != rec["@odata.etag"] {
			odataError(w, 412, "Internal_EntityChanged", "Another user has already changed the record.")
			return
		}
		changes["id"] = key
		writeJSON(w, 200, s.put(col, changes))
		return
	}
	odataError(w, 404, "Internal_RecordNotFound", "The record does not exist")
}

func (s *Sandbox) subscriptions(w http.ResponseWriter, r *http.Request, rest string) {
	switch {
	case r.Method == http.MethodPost && rest == "":
		var in struct{ NotificationURL, Resource, ClientState string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.NotificationURL == "" || in.Resource == "" {
			odataError(w, 400, "BadRequest", "notificationUrl and resource are required")
			return
		}
		sub, err := s.Subscribe(r.Context(), in.NotificationURL, in.Resource, in.ClientState)
		if err != nil {
			odataError(w, 400, "BadRequest_InvalidToken", "Could not validate the notification URL: "+err.Error())
			return
		}
		writeJSON(w, 201, sub)
	case r.Method == http.MethodGet && rest == "":
		writeJSON(w, 200, map[string]any{"value": s.Subscriptions()})
	case r.Method == http.MethodPatch && strings.HasPrefix(rest, "('"):
		id := strings.TrimSuffix(strings.TrimPrefix(rest, "('"), "')")
		if r.Header.Get("If-Match") == "" {
			odataError(w, 400, "BadRequest", "If-Match is required")
			return
		}
		if err := s.Renew(r.Context(), id); err != nil {
			odataError(w, 400, "BadRequest", err.Error())
			return
		}
		for _, sub := range s.Subscriptions() {
			if sub.ID == id {
				writeJSON(w, 200, sub)
			}
		}
	default:
		odataError(w, 405, "BadRequest_MethodNotAllowed", "method not allowed")
	}
}

// filter is a parsed $filter: alternatives (or) of conjunctions (and).
type filter [][]condition

type condition struct {
	field, op string
	value     string
}

func parseFilter(f string) (filter, error) {
	if strings.TrimSpace(f) == "" {
		return nil, nil
	}
	var out filter
	for _, alt := range strings.Split(f, " or ") {
		var conj []condition
		for _, term := range strings.Split(alt, " and ") {
			parts := strings.SplitN(strings.TrimSpace(term), " ", 3)
			if len(parts) != 3 || (parts[1] != "eq" && parts[1] != "gt" && parts[1] != "ge" && parts[1] != "lt") {
				return nil, fmt.Errorf("unsupported filter term %q", term)
			}
			conj = append(conj, condition{field: parts[0], op: parts[1], value: strings.Trim(strings.ReplaceAll(parts[2], "''", "'"), "'")})
		}
		out = append(out, conj)
	}
	return out, nil
}

func (f filter) match(rec map[string]any) bool {
	if f == nil {
		return true
	}
	for _, conj := range f {
		ok := true
		for _, c := range conj {
			ok = ok && c.match(rec[c.field])
		}
		if ok {
			return true
		}
	}
	return false
}

func (c condition) match(v any) bool {
	got := fmt.Sprint(v)
	if c.field == "lastModifiedDateTime" && c.op != "eq" {
		a, err1 := model.ParseVersion(got)
		b, err2 := model.ParseVersion(c.value)
		if err1 != nil || err2 != nil {
			return false
		}
		switch c.op {
		case "gt":
			return a > b
		case "ge":
			return a >= b
		case "lt":
			return a < b
		}
	}
	switch c.op {
	case "eq":
		return strings.EqualFold(got, c.value)
	case "gt":
		return got > c.value
	case "ge":
		return got >= c.value
	}
	return got < c.value
}
