package alisqi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Set is one AlisQI set (measurement set or selection list).
type Set struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// GetAllSets lists the installation's sets.
func (c *Client) GetAllSets(ctx context.Context) ([]Set, error) {
	body, err := c.do(ctx, request{call: "getAllSets", method: http.MethodGet, idempotent: true})
	if err != nil {
		return nil, err
	}
	var sets []Set
	if err := json.Unmarshal(body, &sets); err != nil {
		return nil, &Error{Call: "getAllSets", Status: 200, Message: "unexpected response shape", err: err}
	}
	return sets, nil
}

// FieldDef is one field of a set.
type FieldDef struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Options []string `json:"options,omitempty"` // selection list options
}

// SetDefinition is a set's fields.
type SetDefinition struct {
	ID     int        `json:"id"`
	Name   string     `json:"name"`
	Fields []FieldDef `json:"fields"`
}

// Field returns the named field, or nil.
func (d *SetDefinition) Field(name string) *FieldDef {
	for i := range d.Fields {
		if d.Fields[i].Name == name {
			return &d.Fields[i]
		}
	}
	return nil
}

// GetSetDefinition returns a set's fields, to validate a mapping against it.
func (c *Client) GetSetDefinition(ctx context.Context, setID int) (*SetDefinition, error) {
	body, err := c.do(ctx, request{call: "getSetDefinition", method: http.MethodGet, idempotent: true,
		query: url.Values{"setId": {strconv.Itoa(setID)}}})
	if err != nil {
		return nil, err
	}
	var d SetDefinition
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, &Error{Call: "getSetDefinition", Status: 200, Message: "unexpected response shape", err: err}
	}
	return &d, nil
}

// ResultsQuery selects results; Limit is 1-10000 (default 100).
type ResultsQuery struct {
	SetID                       int
	Limit, Offset               int
	Sort                        string
	Filter                      any // encoded as the JSON string AlisQI expects
	Fields                      []string
	IncludeID                   bool
	IncludeLastModificationDate bool
}

// GetResults returns one page of results as JSON objects.
func (c *Client) GetResults(ctx context.Context, q ResultsQuery) ([]map[string]any, error) {
	v := url.Values{"setId": {strconv.Itoa(q.SetID)}}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Offset > 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	if q.Sort != "" {
		v.Set("sort", q.Sort)
	}
	if q.Filter != nil {
		f, err := json.Marshal(q.Filter)
		if err != nil {
			return nil, fmt.Errorf("alisqi getResults: filter: %w", err)
		}
		v.Set("filter", string(f))
	}
	if len(q.Fields) > 0 {
		v.Set("fields", strings.Join(q.Fields, ","))
	}
	if q.IncludeID {
		v.Set("includeId", "true")
	}
	if q.IncludeLastModificationDate {
		v.Set("includeLastModificationDate", "true")
	}
	body, err := c.do(ctx, request{call: "getResults", method: http.MethodGet, query: v, idempotent: true})
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, &Error{Call: "getResults", Status: 200, Message: "unexpected response shape", err: err}
	}
	return out, nil
}

// Store is one storeResults call.
type Store struct {
	SetID          int
	KeyField       string // upsert on this field; without it results are inserted
	EditOnly       bool   // only update results that exist
	AddListOptions bool   // add unknown selection-list options
	Results        []json.RawMessage
}

// StoreResults writes many results in one call. With a KeyField it is an
// idempotent upsert and is retried after ambiguous failures; without one it
// is not retried after a timeout (the caller must read back with
// GetResults). Callers chunk with Chunks.
func (c *Client) StoreResults(ctx context.Context, s Store) error {
	var arr bytes.Buffer
	arr.WriteByte('[')
	for i, r := range s.Results {
		if i > 0 {
			arr.WriteByte(',')
		}
		arr.Write(r)
	}
	arr.WriteByte(']')
	form := url.Values{"setId": {strconv.Itoa(s.SetID)}, "results": {arr.String()}}
	if s.KeyField != "" {
		form.Set("keyField", s.KeyField)
	}
	if s.EditOnly {
		form.Set("editOnly", "true")
	}
	if s.AddListOptions {
		form.Set("addListOptions", "true")
	}
	_, err := c.do(ctx, request{call: "storeResults", method: http.MethodPost, form: form, idempotent: s.KeyField != ""})
	return err
}

// Chunks splits results into storeResults calls of at most maxCount
// results and about maxBytes of JSON each (a single larger result gets a
// call of its own).
func Chunks(results []json.RawMessage, maxCount, maxBytes int) [][]json.RawMessage {
	var out [][]json.RawMessage
	start, size := 0, 0
	for i, r := range results {
		if i > start && (i-start == maxCount || size+len(r)+1 > maxBytes) {
			out = append(out, results[start:i])
			start, size = i, 0
		}
		size += len(r) + 1
	}
	if start < len(results) {
		out = append(out, results[start:])
	}
	return out
}
