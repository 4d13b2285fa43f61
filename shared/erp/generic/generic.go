// Package generic is the ERP adapter for any ERP or middleware that can
// send signed JSON: the contract is in the README ("Generic webhook").
//
// A request carries X-Qbridge-Timestamp (Unix seconds) and
// X-Qbridge-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
// (several comma-separated v1= values are accepted, for secret rotation).
// A timestamp more than 5 minutes from qbridge's clock is refused, so a
// captured request cannot be replayed later.
package generic

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/qbridge/qbridge/shared/erp"
	"github.com/qbridge/qbridge/shared/mapping"
	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/secrets"
	"github.com/qbridge/qbridge/shared/spec"
)

// Headers of the contract.
const (
	HeaderTimestamp = "X-Qbridge-Timestamp"
	HeaderSignature = "X-Qbridge-Signature"
	Tolerance       = 5 * time.Minute
)

// Adapter is one generic connection.
type Adapter struct {
	spec  *spec.Spec
	plans *mapping.Plans
	creds *secrets.Credentials
	http  *http.Client
	now   func() time.Time
}

var _ erp.Adapter = (*Adapter)(nil)

// New returns the adapter of one connection.
func New(s *spec.Spec, plans *mapping.Plans, creds *secrets.Credentials, client *http.Client) *Adapter {
	if client == nil {
		client = &http.Client{Timeout: 20 * time.Second}
	}
	return &Adapter{spec: s, plans: plans, creds: creds, http: client, now: time.Now}
}

// Sign computes the signature header value for body at ts (for ERP teams'
// tests and qbridge's own).
func Sign(secret secrets.Secret, ts time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	return timestamp, "v1=" + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret secrets.Secret, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret.Reveal()))
	h.Write([]byte(timestamp))
	h.Write([]byte("."))
	h.Write(body)
	return h.Sum(nil)
}

func (a *Adapter) verify(req erp.Request) error {
	if !a.creds.WebhookSecret.IsSet() {
		return model.Errorf(model.EUnauthorized, "this connection has no webhook secret configured")
	}
	ts, sigs := req.Header.Get(HeaderTimestamp), req.Header.Get(HeaderSignature)
	if ts == "" || sigs == "" {
		return model.Errorf(model.EUnauthorized, "missing %s or %s header", HeaderTimestamp, HeaderSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return model.Errorf(model.EUnauthorized, "%s must be Unix seconds", HeaderTimestamp)
	}
	if d := a.now().Sub(time.Unix(sec, 0)); d > Tolerance || d < -Tolerance {
		return model.Errorf(model.EUnauthorized, "timestamp is outside the %v tolerance (replayed or clock skew)", Tolerance)
	}
	want := mac(a.creds.WebhookSecret, ts, req.Body)
	for _, part := range strings.Split(sigs, ",") {
		hexSig, ok := strings.CutPrefix(strings.TrimSpace(part), "v1=")
		if !ok {
			continue
		}
		got, err := hex.DecodeString(hexSig)
		if err == nil && hmac.Equal(want, got) {
			return nil
		}
	}
	return model.Errorf(model.EUnauthorized, "signature does not match")
}

// event is one event of the contract's body.
type event struct {
	ID       string          `json:"id"`
	Entity   string          `json:"entity"`
	Action   string          `json:"action"`
	Key      string          `json:"key"`
	Version  json.RawMessage `json:"version"`
	Record   json.RawMessage `json:"record"`
	Resource string          `json:"resource"`
}

// Receive implements erp.Receiver.
func (a *Adapter) Receive(_ context.Context, req erp.Request) (erp.Inbound, error) {
	if err := a.verify(req); err != nil {
		return erp.Inbound{}, err
	}
	var body struct {
		Events []json.RawMessage `json:"events"`
	}
	trimmed := bytes.TrimSpace(req.Body)
	if err := json.Unmarshal(trimmed, &body); err != nil {
		return erp.Inbound{}, model.Errorf(model.EInvalid, "body is not JSON: %s", jsonProblem(err))
	}
	if body.Events == nil {
		body.Events = []json.RawMessage{trimmed} // a single event object
	}
	if len(body.Events) == 0 {
		return erp.Inbound{}, model.Errorf(model.EInvalid, "events is empty")
	}
	out := make([]model.ChangeEvent, 0, len(body.Events))
	for i, raw := range body.Events {
		ev, err := a.event(raw, req.ReceivedAt)
		if err != nil {
			return erp.Inbound{}, model.Errorf(model.EInvalid, "events[%d]: %s", i, err)
		}
		out = append(out, ev)
	}
	return erp.Inbound{Events: out}, nil
}

func (a *Adapter) event(raw json.RawMessage, received time.Time) (model.ChangeEvent, error) {
	var e event
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return model.ChangeEvent{}, fmt.Errorf("%s", jsonProblem(err))
	}
	ent := a.spec.Entity(e.Entity)
	if ent == nil {
		return model.ChangeEvent{}, fmt.Errorf("unknown entity %q; this connection has %s", e.Entity, strings.Join(a.spec.EntityOrder, ", "))
	}
	action := model.Action(e.Action)
	if e.Action == "" {
		action = model.ActionUpdated
	}
	if !action.Valid() {
		return model.ChangeEvent{}, fmt.Errorf("action %q is not one of created, updated, deleted, released, statusChanged", e.Action)
	}
	ev := model.ChangeEvent{Connection: a.spec.Connection, Entity: e.Entity, Kind: ent.Kind, Action: action, Source: "generic", ReceivedAt: received, Key: e.Key, Resource: e.Resource}
	plan := a.plans.Entities[e.Entity]
	if len(e.Version) > 0 && string(e.Version) != "null" {
		var v any
		_ = json.Unmarshal(e.Version, &v)
		n, err := model.ParseVersion(v)
		if err != nil {
			return model.ChangeEvent{}, fmt.Errorf("version: %v", err)
		}
		ev.Version = n
	}
	if len(e.Record) > 0 && string(e.Record) != "null" {
		var rec any
		if err := json.Unmarshal(e.Record, &rec); err != nil {
			return model.ChangeEvent{}, fmt.Errorf("record: %s", jsonProblem(err))
		}
		if _, ok := rec.(map[string]any); !ok {
			return model.ChangeEvent{}, fmt.Errorf("record must be a JSON object")
		}
		key, err := plan.Key(rec)
		if err != nil {
			return model.ChangeEvent{}, fmt.Errorf("record: %v", err)
		}
		if ev.Key != "" && ev.Key != key {
			return model.ChangeEvent{}, fmt.Errorf("key %q does not match the record's key %q", ev.Key, key)
		}
		if ev.Version == 0 {
			if ev.Version, err = plan.Version(rec); err != nil {
				return model.ChangeEvent{}, fmt.Errorf("record: %v", err)
			}
		}
		ev.Key, ev.Payload = key, e.Record
	} else {
		if ev.Key == "" {
			return model.ChangeEvent{}, fmt.Errorf("needs a record (a full event) or a key (a thin event)")
		}
		ev.Thin = action != model.ActionDeleted
	}
	ev.ID = e.ID
	if ev.ID == "" {
		ev.ID = EventID(a.spec.Connection, e.Entity, ev.Key, string(action), ev.Version, e.Record)
	}
	return ev, nil
}

// EventID is a stable id: the same change delivered twice gets the same id.
func EventID(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprint(h, p, "\x00")
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// jsonProblem describes a JSON error without echoing the payload.
func jsonProblem(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("invalid JSON at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("field %s must be %s", e.Field, e.Type)
	}
	if strings.HasPrefix(err.Error(), "json: unknown field") {
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return "body is empty or cut short"
	}
	return "malformed JSON"
}

// Fetch implements erp.Fetcher: GET {erp.baseUrl}/{resource}?key=..&key=..
// answering {"value": [records]}, with the ERP client secret as a Bearer
// token. Only thin events need it.
func (a *Adapter) Fetch(ctx context.Context, e *spec.Entity, keys []string) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	for start := 0; start < len(keys); start += 50 {
		q := url.Values{"key": keys[start:min(start+50, len(keys))]}
		if err := a.get(ctx, e, q, func(recs []map[string]any) error {
			for _, r := range recs {
				if k, err := a.plans.Entities[e.Name].Key(r); err == nil {
					out[k] = r
				}
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Changed implements erp.Fetcher: GET {erp.baseUrl}/{resource}?modifiedSince=RFC3339,
// following "nextLink".
func (a *Adapter) Changed(ctx context.Context, e *spec.Entity, since int64, page func([]map[string]any) error) error {
	return a.get(ctx, e, url.Values{"modifiedSince": {time.UnixMicro(since).UTC().Format(time.RFC3339Nano)}}, page)
}

func (a *Adapter) get(ctx context.Context, e *spec.Entity, q url.Values, page func([]map[string]any) error) error {
	if a.spec.ERP.BaseURL == "" {
		return model.Errorf(model.EInvalid, "thin events of entity %s need erp.baseUrl in the spec to fetch records", e.Name)
	}
	next := strings.TrimSuffix(a.spec.ERP.BaseURL, "/") + "/" + strings.TrimPrefix(e.Resource, "/") + "?" + q.Encode()
	for next != "" {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+a.creds.ERPClientSecret.Reveal())
		resp, err := a.http.Do(req)
		if err != nil {
			return model.Wrap(model.EUnavailable, "ERP unreachable", fmt.Errorf("fetch %s: %w", e.Name, err))
		}
		var body struct {
			Value    []map[string]any `json:"value"`
			NextLink string           `json:"nextLink"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return model.Wrap(model.EUnavailable, "ERP fetch failed", fmt.Errorf("fetch %s: status %d", e.Name, resp.StatusCode))
		}
		if err != nil {
			return fmt.Errorf("fetch %s: %s", e.Name, jsonProblem(err))
		}
		if err := page(body.Value); err != nil {
			return err
		}
		next = body.NextLink
	}
	return nil
}
