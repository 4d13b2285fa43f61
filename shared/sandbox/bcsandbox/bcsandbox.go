// Package bcsandbox is a SANDBOX: an in-memory stand-in for a Business
// Central environment, for tests and for the local runner when no real BC is
// configured. Production code never imports it. It behaves as
// ../shared/API-NOTES.md says BC does: OAuth2 client-credentials tokens;
// OData collections with $filter (eq, gt, and, or), @odata.nextLink paging
// and @odata.etag; PATCH with If-Match (412 stale, 400 missing);
// subscriptions that run the validation handshake on create and renewal and
// expire after 3 days; thin notifications ({"value":[...]} with no record
// data), a "collection" notice instead when more changes piled up than the
// threshold; and BC's delivery rule: 408, 429 and 5xx are retried, any other
// 4xx deletes the subscription.
package bcsandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Sandbox is one BC tenant with one company.
type Sandbox struct {
	mu sync.Mutex

	Tenant, Environment, CompanyID string
	ClientID, ClientSecret         string
	// PageSize is the most records one OData page carries (BC: 20,000).
	PageSize int
	// CollectionThreshold: more pending changes than this for one
	// subscription become one collection notice (BC: 1,000 in 30 s).
	CollectionThreshold int

	records  map[string][]map[string]any // by collection ("items", "api/acme/quality/v1.0/receiptLots")
	pending  map[string][]change         // by collection
	subs     map[string]*Subscription
	tokens   map[string]time.Time
	requests int
	now      func() time.Time
	client   *http.Client
	base     string // set by Serve/SetBase: where this sandbox is reachable
	etags    int
}

type change struct {
	id, changeType string
	at             time.Time
}

// Subscription is a BC webhook subscription.
type Subscription struct {
	ID              string `json:"subscriptionId"`
	NotificationURL string `json:"notificationUrl"`
	Resource        string `json:"resource"`
	ClientState     string `json:"clientState"`
	Expiration      string `json:"expirationDateTime"`
	ETag            string `json:"@odata.etag"`
	collection      string
	Deliveries      int `json:"-"`
	LastStatus      int `json:"-"`
}

// New returns an empty sandbox with the given OAuth client.
func New(clientID, clientSecret string) *Sandbox {
	return &Sandbox{Tenant: "sandbox-tenant", Environment: "Production", CompanyID: "6f1e0c4e-0000-0000-0000-000000000001",
		ClientID: clientID, ClientSecret: clientSecret, PageSize: 20000, CollectionThreshold: 1000,
		records: map[string][]map[string]any{}, pending: map[string][]change{}, subs: map[string]*Subscription{},
		tokens: map[string]time.Time{}, now: time.Now, client: &http.Client{Timeout: 5 * time.Second}}
}

// SetBase records the URL the sandbox is served at (http://127.0.0.1:port).
func (s *Sandbox) SetBase(base string) {
	s.mu.Lock()
	s.base = strings.TrimSuffix(base, "/")
	s.mu.Unlock()
}

// BaseURL is erp.baseUrl for a spec: .../api/v2.0/companies({id}).
func (s *Sandbox) BaseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%s/v2.0/%s/%s/api/v2.0/companies(%s)", s.base, s.Tenant, s.Environment, s.CompanyID)
}

// TokenURL is erp.tokenUrl for a spec.
func (s *Sandbox) TokenURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%s/%s/oauth2/v2.0/token", s.base, s.Tenant)
}

// SetClock replaces the clock (lastModifiedDateTime, expirations).
func (s *Sandbox) SetClock(now func() time.Time) { s.mu.Lock(); s.now = now; s.mu.Unlock() }

// Requests counts the API requests served (token requests excluded).
func (s *Sandbox) Requests() int { s.mu.Lock(); defer s.mu.Unlock(); return s.requests }

func newGUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// normalize maps "api/v2.0/items" and "items" to "items"; custom pages keep
// their full path.
func normalize(collection string) string {
	c := strings.Trim(collection, "/")
	return strings.TrimPrefix(c, "api/v2.0/")
}

// Put creates or updates a record of collection (matched on "id"; a record
// without one is created with a new id), sets lastModifiedDateTime and a new
// @odata.etag, queues a notification, and returns the stored record.
func (s *Sandbox) Put(collection string, rec map[string]any) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.put(normalize(collection), rec)
}

func (s *Sandbox) put(col string, rec map[string]any) map[string]any {
	now := s.now().UTC()
	id, _ := rec["id"].(string)
	changeType := "updated"
	var target map[string]any
	if id != "" {
		for _, r := range s.records[col] {
			if r["id"] == id {
				target = r
			}
		}
	} else {
		id = newGUID()
	}
	if target == nil {
		target = map[string]any{"id": id}
		s.records[col] = append(s.records[col], target)
		changeType = "created"
	}
	for k, v := range rec {
		target[k] = v
	}
	target["id"] = id
	target["lastModifiedDateTime"] = now.Format("2006-01-02T15:04:05.0000000Z")
	s.etags++
	target["@odata.etag"] = fmt.Sprintf(`W/"JzQ0O%08dOyc="`, s.etags)
	s.pending[col] = append(s.pending[col], change{id: id, changeType: changeType, at: now})
	return copyMap(target)
}

// Delete removes a record and queues a "deleted" notification.
func (s *Sandbox) Delete(collection, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	col := normalize(collection)
	for i, r := range s.records[col] {
		if r["id"] == id {
			s.records[col] = append(s.records[col][:i], s.records[col][i+1:]...)
			s.pending[col] = append(s.pending[col], change{id: id, changeType: "deleted", at: s.now().UTC()})
			return true
		}
	}
	return false
}

// Record returns a copy of one record.
func (s *Sandbox) Record(collection, id string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.records[normalize(collection)] {
		if r["id"] == id {
			return copyMap(r), true
		}
	}
	return nil, false
}

func copyMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Subscriptions returns copies of the live subscriptions.
func (s *Sandbox) Subscriptions() []Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Subscription
	for _, sub := range s.subs {
		out = append(out, *sub)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Subscribe creates a subscription as BC does on POST subscriptions: it
// calls notificationUrl?validationToken=... and expects the token echoed
// within 5 seconds.
func (s *Sandbox) Subscribe(ctx context.Context, notificationURL, resource, clientState string) (*Subscription, error) {
	if err := s.handshake(ctx, notificationURL); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	path := companyPath.ReplaceAllString(strings.Trim(resource, "/"), "")
	sub := &Subscription{ID: strings.ReplaceAll(newGUID(), "-", ""), NotificationURL: notificationURL, Resource: resource, ClientState: clientState,
		Expiration: s.now().UTC().Add(72 * time.Hour).Format(time.RFC3339), ETag: `W/"1"`, collection: normalize(path)}
	s.subs[sub.ID] = sub
	return sub, nil
}

// Renew extends a subscription by 3 days; like BC it repeats the handshake.
func (s *Sandbox) Renew(ctx context.Context, id string) error {
	s.mu.Lock()
	sub, ok := s.subs[id]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("subscription %s not found", id)
	}
	if err := s.handshake(ctx, sub.NotificationURL); err != nil {
		return err
	}
	s.mu.Lock()
	sub.Expiration = s.now().UTC().Add(72 * time.Hour).Format(time.RFC3339)
	s.mu.Unlock()
	return nil
}

func (s *Sandbox) handshake(ctx context.Context, notificationURL string) error {
	token := "sandbox-validation-" + newGUID()
	u, err := url.Parse(notificationURL)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("validationToken", token)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != token {
		return fmt.Errorf("handshake: status %d, token echoed %v", resp.StatusCode, string(body) == token)
	}
	return nil
}

// Flush delivers the pending notifications to every matching subscription,
// as BC does after its ~30 s debounce. A 2xx clears them; 408, 429 and 5xx
// keep them for the next flush; any other 4xx deletes the subscription.
func (s *Sandbox) Flush(ctx context.Context) error {
	s.mu.Lock()
	type delivery struct {
		sub  *Subscription
		body []byte
		col  string
	}
	var ds []delivery
	for _, sub := range s.subs {
		changes := s.pending[sub.collection]
		if len(changes) == 0 {
			continue
		}
		var value []map[string]any
		colPath := resourcePath(sub.collection, s.CompanyID)
		if len(changes) > s.CollectionThreshold {
			earliest := changes[0].at
			for _, c := range changes {
				if c.at.Before(earliest) {
					earliest = c.at
				}
			}
			since := earliest.Add(-time.Millisecond).Format("2006-01-02T15:04:05.000Z")
			value = append(value, s.notice(sub, colPath+"?$filter="+url.QueryEscape("lastModifiedDateTime gt "+since), "collection", s.now().UTC()))
		} else {
			for _, c := range changes {
				value = append(value, s.notice(sub, colPath+"("+c.id+")", c.changeType, c.at))
			}
		}
		body, _ := json.Marshal(map[string]any{"value": value})
		ds = append(ds, delivery{sub: sub, body: body, col: sub.collection})
	}
	s.mu.Unlock()

	delivered := map[string]bool{}
	for _, d := range ds {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.sub.NotificationURL, bytes.NewReader(d.body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.client.Do(req)
		status := 0
		if err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		s.mu.Lock()
		d.sub.Deliveries++
		d.sub.LastStatus = status
		switch {
		case status >= 200 && status < 300:
			delivered[d.col] = true
		case status == 408 || status == 429 || status >= 500 || status == 0:
			// kept for the next flush (BC retries for up to 36 hours)
		default:
			delete(s.subs, d.sub.ID) // BC deletes the subscription on any other 4xx
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	for col := range delivered {
		delete(s.pending, col)
	}
	s.mu.Unlock()
	return nil
}

func (s *Sandbox) notice(sub *Subscription, resource, changeType string, at time.Time) map[string]any {
	return map[string]any{
		"subscriptionId": sub.ID, "clientState": sub.ClientState, "expirationDateTime": sub.Expiration,
		"resource": resource, "changeType": changeType, "lastModifiedDateTime": at.Format("2006-01-02T15:04:05.0000000Z"),
	}
}

// resourcePath is the notification resource of a collection:
// api/v2.0/companies(id)/items or api/acme/quality/v1.0/companies(id)/receiptLots.
func resourcePath(col, company string) string {
	if !strings.HasPrefix(col, "api/") {
		return "api/v2.0/companies(" + company + ")/" + col
	}
	k := strings.LastIndexByte(col, '/')
	return col[:k] + "/companies(" + company + ")" + col[k:]
}

// Pending returns how many changes wait for delivery.
func (s *Sandbox) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, cs := range s.pending {
		n += len(cs)
	}
	return n
}
