// Package erp defines what qbridge needs from an ERP adapter: verify an
// incoming webhook and turn it into canonical change events (or a handshake
// reply), and read the current state of records. One package per adapter
// implements it; erp/adapters picks one by the spec's erp.system.
package erp

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/spec"
)

// Request is an incoming webhook, independent of how it arrived.
type Request struct {
	Method     string
	Query      url.Values
	Header     http.Header
	Body       []byte
	ReceivedAt time.Time
}

// Reply is an answer the adapter wants sent as is (a handshake).
type Reply struct {
	Status      int
	ContentType string
	Body        []byte
}

// Inbound is what a verified webhook carried.
type Inbound struct {
	Events []model.ChangeEvent
	// Reply, when set, answers a handshake: send it and enqueue nothing.
	Reply *Reply
}

// Receiver verifies webhooks. Its errors are *model.Error: unauthorized for
// a bad or missing signature, invalid for a malformed body.
type Receiver interface {
	Receive(ctx context.Context, req Request) (Inbound, error)
}

// Fetcher reads the ERP.
type Fetcher interface {
	// Fetch returns the current records of one entity by key, many keys per
	// request. A key absent from the map no longer exists in the ERP.
	Fetch(ctx context.Context, e *spec.Entity, keys []string) (map[string]map[string]any, error)
	// Changed calls page with every record of e changed after since (the
	// version scale: Unix microseconds), page by page, oldest first.
	Changed(ctx context.Context, e *spec.Entity, since int64, page func([]map[string]any) error) error
}

// Adapter is one ERP connection.
type Adapter interface {
	Receiver
	Fetcher
}

// Subscription is a webhook subscription the ERP keeps.
type Subscription struct {
	ID       string    `json:"id"`
	Resource string    `json:"resource"`
	Expires  time.Time `json:"expires"`
}

// SubscriptionLister is implemented by adapters whose ERP keeps webhook
// subscriptions that expire (Business Central: after 3 days).
type SubscriptionLister interface {
	Subscriptions(ctx context.Context) ([]Subscription, error)
}
