package alisqisandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/qbridge/qbridge/shared/mapping"
)

func contextWith(ctx context.Context, h http.Header) context.Context {
	return context.WithValue(ctx, headersKey{}, h)
}

const modifiedField = "lastModificationDate"

var dateTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$`)

// storeResults applies all results or none.
func (s *Server) storeResults(r *http.Request, call *Call) (int, []byte) {
	if err := r.ParseMultipartForm(32 << 20); err != nil && err != http.ErrNotMultipart {
		return 400, errorBody("Malformed form data")
	}
	st, status, body := s.lookup(r)
	if st == nil {
		return status, body
	}
	call.SetID = st.def.ID
	var results []map[string]any
	dec := json.NewDecoder(strings.NewReader(r.FormValue("results")))
	dec.UseNumber()
	if err := dec.Decode(&results); err != nil {
		return 400, errorBody("Parameter results must be a JSON array of objects")
	}
	call.Results = len(results)
	keyField := r.FormValue("keyField")
	call.KeyField = keyField
	editOnly := r.FormValue("editOnly") == "true"
	addOptions := r.FormValue("addListOptions") == "true"

	// Validate everything first: a rejected call applies nothing.
	newOptions := map[string][]string{}
	for i, res := range results {
		if keyField != "" {
			if v, ok := res[keyField]; !ok || v == nil || v == "" {
				return 400, errorBody(fmt.Sprintf("Result %d has no value for keyField %s", i, keyField))
			}
		}
		if msg := validate(st, res, addOptions, newOptions); msg != "" {
			return 400, errorBody(fmt.Sprintf("Result %d: %s", i, msg))
		}
	}
	for name, opts := range newOptions {
		f := st.def.Field(name)
		f.Options = append(f.Options, opts...)
	}
	now := s.now().UTC().Format(mapping.AlisQIDateTime)
	for _, res := range results {
		var target map[string]any
		if keyField != "" {
			for _, existing := range st.results {
				if equal(existing[keyField], res[keyField]) {
					target = existing
					break
				}
			}
		}
		if target == nil {
			if editOnly {
				continue
			}
			target = map[string]any{"@id": s.nextID}
			s.nextID++
			st.results = append(st.results, target)
		}
		for k, v := range res {
			if n, ok := v.(json.Number); ok {
				if f, err := n.Float64(); err == nil {
					v = f
				}
			}
			target[k] = v
		}
		target[modifiedField] = now
	}
	return 200, []byte(`{"success":true}`)
}

func validate(st *set, res map[string]any, addOptions bool, newOptions map[string][]string) string {
	if len(st.def.Fields) == 0 {
		return ""
	}
	for name, v := range res {
		f := st.def.Field(name)
		if f == nil {
			return fmt.Sprintf("Unknown field %s", name)
		}
		if v == nil || v == "" {
			continue
		}
		switch f.Type {
		case "number":
			if _, ok := v.(json.Number); !ok {
				return fmt.Sprintf("Field %s expects a number, got %v", name, v)
			}
		case "date":
			if s, ok := v.(string); !ok || !dateTime.MatchString(s) {
				return fmt.Sprintf("Field %s expects a date (yyyy-mm-dd hh:mm:ss), got %v", name, v)
			}
		case "list":
			text := fmt.Sprint(v)
			known := false
			for _, o := range f.Options {
				known = known || o == text
			}
			for _, o := range newOptions[name] {
				known = known || o == text
			}
			if !known {
				if !addOptions {
					return fmt.Sprintf("Option %q is not valid for field %s", text, name)
				}
				newOptions[name] = append(newOptions[name], text)
			}
		}
	}
	return ""
}

// getResults supports filter (field → value, or → [{"value": v, "operator": op}]),
// sort (field or -field), fields, includeId, includeLastModificationDate,
// limit (default 100, max 10000) and offset.
func (s *Server) getResults(r *http.Request, call *Call) (int, []byte) {
	st, status, body := s.lookup(r)
	if st == nil {
		return status, body
	}
	call.SetID = st.def.ID
	limit := 100
	if v := r.FormValue("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return 400, errorBody("Parameter limit must be between 1 and 10000")
		}
		limit = n
	}
	offset, _ := strconv.Atoi(r.FormValue("offset"))
	var filter map[string]any
	if f := r.FormValue("filter"); f != "" {
		if err := json.Unmarshal([]byte(f), &filter); err != nil {
			return 400, errorBody("Parameter filter must be a JSON object")
		}
	}
	var matched []map[string]any
	for _, res := range st.results {
		if matches(res, filter) {
			matched = append(matched, res)
		}
	}
	if key := r.FormValue("sort"); key != "" {
		desc := strings.HasPrefix(key, "-")
		key = strings.TrimPrefix(key, "-")
		sort.SliceStable(matched, func(i, j int) bool {
			a, b := fmt.Sprint(matched[i][key]), fmt.Sprint(matched[j][key])
			if desc {
				return a > b
			}
			return a < b
		})
	}
	if offset > len(matched) {
		offset = len(matched)
	}
	matched = matched[offset:min(len(matched), offset+limit)]
	var fields []string
	if f := r.FormValue("fields"); f != "" {
		fields = strings.Split(f, ",")
	}
	withID, withMod := r.FormValue("includeId") == "true", r.FormValue("includeLastModificationDate") == "true"
	out := make([]map[string]any, 0, len(matched))
	for _, res := range matched {
		o := map[string]any{}
		for k, v := range res {
			switch {
			case k == "@id":
				if withID {
					o[k] = v
				}
			case k == modifiedField:
				if withMod {
					o[k] = v
				}
			case fields == nil || contains(fields, k):
				o[k] = v
			}
		}
		out = append(out, o)
	}
	b, _ := json.Marshal(out)
	return 200, b
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func matches(res map[string]any, filter map[string]any) bool {
	for field, cond := range filter {
		got := res[field]
		conds, ok := cond.([]any)
		if !ok {
			conds = []any{map[string]any{"value": cond}}
		}
		hit := false
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if compare(got, m["value"], fmt.Sprint(m["operator"])) {
				hit = true
			}
		}
		if !hit {
			return false
		}
	}
	return true
}

func compare(got, want any, op string) bool {
	a, b := fmt.Sprint(got), fmt.Sprint(want)
	switch op {
	case ">":
		return got != nil && a > b
	case ">=":
		return got != nil && a >= b
	case "<":
		return got != nil && a < b
	}
	return equal(got, want)
}
