// Package businesscentral is the ERP adapter for Microsoft Dynamics 365
// Business Central (API v2.0 and custom API pages): the webhook validation
// handshake, clientState checked in constant time on every notification,
// thin notifications turned into events whose records dispatch fetches
// through OData (many keys per request, OAuth2 client-credentials token
// cached until expiry), "collection" notices turned into a paged pull, and
// deletions.
package businesscentral

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/qbridge/qbridge/shared/erp"
	"github.com/qbridge/qbridge/shared/erp/generic"
	"github.com/qbridge/qbridge/shared/erp/oauth"
	"github.com/qbridge/qbridge/shared/mapping"
	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/secrets"
	"github.com/qbridge/qbridge/shared/spec"
)

// Adapter is one Business Central company.
type Adapter struct {
	spec      *spec.Spec
	plans     *mapping.Plans
	creds     *secrets.Credentials
	http      *http.Client
	tokens    *oauth.ClientCredentials
	root      string // https://api.businesscentral.dynamics.com/v2.0/{tenant}/{environment}
	company   string // companies({id})
	resources map[string]*spec.Entity
	// KeysPerRequest bounds the ids in one $filter (URL length).
	KeysPerRequest int
}

var _ erp.Adapter = (*Adapter)(nil)

// New returns the adapter for the spec's company.
func New(s *spec.Spec, plans *mapping.Plans, creds *secrets.Credentials, client *http.Client) (*Adapter, error) {
	base := strings.TrimSuffix(s.ERP.BaseURL, "/")
	i := strings.Index(base, "/api/")
	j := strings.LastIndex(base, "/companies(")
	if i < 0 || j < i {
		return nil, fmt.Errorf("businesscentral: erp.baseUrl %q must end in /api/v2.0/companies({id})", s.ERP.BaseURL)
	}
	if client == nil {
		client = &http.Client{Timeout: 25 * time.Second}
	}
	a := &Adapter{spec: s, plans: plans, creds: creds, http: client, root: base[:i], company: base[j+1:],
		resources: map[string]*spec.Entity{}, KeysPerRequest: 15}
	a.tokens = &oauth.ClientCredentials{TokenURL: s.ERP.TokenURL, ClientID: creds.ERPClientID, Secret: creds.ERPClientSecret, Scope: s.ERP.Scope, HTTP: client}
	for _, name := range s.EntityOrder {
		e := s.Entities[name]
		a.resources[apiPath(e.Resource)] = e
	}
	return a, nil
}

// apiPath normalises a spec resource: "items" is the standard API's
// "api/v2.0/items"; a custom page is written in full.
func apiPath(resource string) string {
	r := strings.Trim(resource, "/")
	if strings.HasPrefix(r, "api/") {
		return r
	}
	return "api/v2.0/" + r
}

// collectionURL is the OData URL of an entity's collection.
func (a *Adapter) collectionURL(e *spec.Entity) string {
	p := apiPath(e.Resource)
	k := strings.LastIndexByte(p, '/')
	return a.root + "/" + p[:k] + "/" + a.company + p[k:]
}

var companySegment = regexp.MustCompile(`companies\([^)]*\)/`)

// notification is one item of a BC notification's value array.
type notification struct {
	SubscriptionID       string `json:"subscriptionId"`
	ClientState          string `json:"clientState"`
	ExpirationDateTime   string `json:"expirationDateTime"`
	Resource             string `json:"resource"`
	ChangeType           string `json:"changeType"`
	LastModifiedDateTime string `json:"lastModifiedDateTime"`
}

// Receive implements erp.Receiver.
func (a *Adapter) Receive(_ context.Context, req erp.Request) (erp.Inbound, error) {
	if token := req.Query.Get("validationToken"); token != "" || req.Query.Has("validationToken") {
		// The subscription handshake (also on renewal): echo the token as
		// plain text within 5 seconds. It carries no clientState to check.
		if token == "" || len(token) > 1024 || strings.ContainsAny(token, "<>\r\n") {
			return erp.Inbound{}, model.Errorf(model.EInvalid, "validationToken is empty, too long or has markup")
		}
		return erp.Inbound{Reply: &erp.Reply{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: []byte(token)}}, nil
	}
	var body struct {
		Value []notification `json:"value"`
	}
	if err := json.Unmarshal(req.Body, &body); err != nil {
		return erp.Inbound{}, model.Errorf(model.EInvalid, "body is not a Business Central notification: %s", jsonProblem(err))
	}
	if body.Value == nil {
		return erp.Inbound{}, model.Errorf(model.EInvalid, `body has no "value" array`)
	}
	// Every item must carry our clientState: one forged item fails the request.
	for i, n := range body.Value {
		if n.ClientState == "" {
			return erp.Inbound{}, model.Errorf(model.EUnauthorized, "value[%d] has no clientState", i)
		}
		if !a.creds.ClientState.Equal(n.ClientState) {
			return erp.Inbound{}, model.Errorf(model.EUnauthorized, "value[%d]: clientState does not match", i)
		}
	}
	events := make([]model.ChangeEvent, 0, len(body.Value))
	for i, n := range body.Value {
		ev, err := a.event(n, req.ReceivedAt)
		if err != nil {
			return erp.Inbound{}, model.Errorf(model.EInvalid, "value[%d]: %s", i, err)
		}
		events = append(events, ev)
	}
	return erp.Inbound{Events: events}, nil
}

func (a *Adapter) event(n notification, received time.Time) (model.ChangeEvent, error) {
	ev := model.ChangeEvent{Connection: a.spec.Connection, Source: "businesscentral", ReceivedAt: received, Resource: n.Resource,
		ID: generic.EventID(n.SubscriptionID, n.Resource, n.ChangeType, n.LastModifiedDateTime)}
	if n.LastModifiedDateTime != "" {
		v, err := model.ParseVersion(n.LastModifiedDateTime)
		if err != nil {
			return ev, fmt.Errorf("lastModifiedDateTime: %v", err)
		}
		ev.Version = v
	}
	path, query, _ := strings.Cut(n.Resource, "?")
	path = companySegment.ReplaceAllString(strings.Trim(path, "/"), "")
	collection, key := path, ""
	if k := strings.LastIndexByte(path, '('); k > 0 && strings.HasSuffix(path, ")") {
		collection, key = path[:k], strings.Trim(path[k+1:len(path)-1], "'")
	}
	// An unmapped resource is kept (dispatch dead-letters it with the
	// reason): never a 4xx, which would make BC delete the subscription.
	if e := a.resources[apiPath(collection)]; e != nil {
		ev.Entity, ev.Kind = e.Name, e.Kind
	}
	switch n.ChangeType {
	case "created":
		ev.Action, ev.Thin = model.ActionCreated, true
	case "updated":
		ev.Action, ev.Thin = model.ActionUpdated, true
	case "deleted":
		ev.Action = model.ActionDeleted
	case "collection":
		ev.Action, ev.Collection, ev.Thin = model.ActionUpdated, true, true
		since, err := sinceOf(query)
		if err != nil {
			return ev, err
		}
		ev.Version, key = since, "*"
	default:
		return ev, fmt.Errorf("changeType %q is not created, updated, deleted or collection", n.ChangeType)
	}
	if key == "" {
		return ev, fmt.Errorf("resource %q names no record", n.Resource)
	}
	ev.Key = key
	return ev, nil
}

// sinceOf reads "lastModifiedDateTime gt X" from a collection notice's query.
func sinceOf(query string) (int64, error) {
	q, err := url.ParseQuery(query)
	if err != nil {
		return 0, fmt.Errorf("collection resource query: %v", err)
	}
	f := q.Get("$filter")
	_, after, ok := strings.Cut(f, "lastModifiedDateTime gt ")
	if !ok {
		return 0, fmt.Errorf("collection resource has no lastModifiedDateTime filter")
	}
	ts, _, _ := strings.Cut(strings.TrimSpace(after), " ")
	return model.ParseVersion(strings.Trim(ts, "'"))
}

// Fetch implements erp.Fetcher with $filter=id eq a or id eq b ..., a few
// keys per request to keep URLs short, following @odata.nextLink.
func (a *Adapter) Fetch(ctx context.Context, e *spec.Entity, keys []string) (map[string]map[string]any, error) {
	if strings.Contains(e.Key, "{{") || strings.ContainsAny(e.Key, ".[") {
		return nil, fmt.Errorf("businesscentral: entity %s: key %q must be a top-level field (SystemId) to fetch by", e.Name, e.Key)
	}
	plan := a.plans.Entities[e.Name]
	out := make(map[string]map[string]any, len(keys))
	for start := 0; start < len(keys); start += a.KeysPerRequest {
		var terms []string
		for _, k := range keys[start:min(start+a.KeysPerRequest, len(keys))] {
			terms = append(terms, e.Key+" eq "+literal(k))
		}
		u := a.collectionURL(e) + "?$filter=" + url.QueryEscape(strings.Join(terms, " or "))
		err := a.pages(ctx, u, func(recs []map[string]any) error {
			for _, r := range recs {
				if k, err := plan.Key(r); err == nil {
					out[k] = r
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", e.Name, err)
		}
	}
	return out, nil
}

var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// literal writes an OData v4 literal: GUIDs bare, text quoted.
func literal(k string) string {
	if guid.MatchString(k) {
		return k
	}
	return "'" + strings.ReplaceAll(k, "'", "''") + "'"
}

// Changed implements erp.Fetcher: $filter=lastModifiedDateTime gt since.
func (a *Adapter) Changed(ctx context.Context, e *spec.Entity, since int64, page func([]map[string]any) error) error {
	ts := time.UnixMicro(since).UTC().Format("2006-01-02T15:04:05.999999Z")
	u := a.collectionURL(e) + "?$filter=" + url.QueryEscape("lastModifiedDateTime gt "+ts)
	if err := a.pages(ctx, u, page); err != nil {
		return fmt.Errorf("changed %s: %w", e.Name, err)
	}
	return nil
}

func (a *Adapter) pages(ctx context.Context, next string, page func([]map[string]any) error) error {
	for next != "" {
		var body struct {
			Value    []map[string]any `json:"value"`
			NextLink string           `json:"@odata.nextLink"`
		}
		if err := a.get(ctx, next, &body); err != nil {
			return err
		}
		if err := page(body.Value); err != nil {
			return err
		}
		next = body.NextLink
	}
	return nil
}

func (a *Adapter) get(ctx context.Context, u string, into any) error {
	token, err := a.tokens.Token(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return model.Wrap(model.EUnavailable, "Business Central unreachable", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return model.Wrap(model.EUnavailable, "Business Central answer cut short", err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == 401 || resp.StatusCode == 403:
		return model.Wrap(model.EUnauthorized, "Business Central refused qbridge's token", fmt.Errorf("status %d: %s", resp.StatusCode, odataError(data)))
	default: // 429, 5xx and the rest: try again later
		return model.Wrap(model.EUnavailable, "Business Central request failed", fmt.Errorf("status %d: %s", resp.StatusCode, odataError(data)))
	}
	if err := json.Unmarshal(data, into); err != nil {
		return fmt.Errorf("answer is not OData JSON: %s", jsonProblem(err))
	}
	return nil
}

func odataError(body []byte) string {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		return e.Error.Code + ": " + e.Error.Message
	}
	return "no OData error body"
}

func jsonProblem(err error) string {
	if se, ok := err.(*json.SyntaxError); ok {
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	}
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return fmt.Sprintf("field %s must be %s", te.Field, te.Type)
	}
	return "malformed JSON"
}

var _ erp.SubscriptionLister = (*Adapter)(nil)

// Subscriptions implements erp.SubscriptionLister.
func (a *Adapter) Subscriptions(ctx context.Context) ([]erp.Subscription, error) {
	var body struct {
		Value []struct {
			SubscriptionID     string `json:"subscriptionId"`
			Resource           string `json:"resource"`
			ExpirationDateTime string `json:"expirationDateTime"`
		} `json:"value"`
	}
	if err := a.get(ctx, a.root+"/api/v2.0/subscriptions", &body); err != nil {
		return nil, err
	}
	out := make([]erp.Subscription, 0, len(body.Value))
	for _, s := range body.Value {
		exp, _ := time.Parse(time.RFC3339, s.ExpirationDateTime)
		out = append(out, erp.Subscription{ID: s.SubscriptionID, Resource: s.Resource, Expires: exp})
	}
	return out, nil
}
