// Package secrets holds a connection's credentials and keeps them out of
// every log line, error and panic: each value is a Secret, which prints,
// formats, marshals and logs as [redacted] and is read only with Reveal.
// Sources (Secrets Manager in AWS, a file or the environment locally) are
// wrapped in a Cache so a warm function reads its secret once per TTL, not
// once per invocation.
package secrets

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Secret is a credential value.
type Secret string

const redacted = "[redacted]"

// Reveal returns the value; call it only where the value is sent.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether the secret has a value.
func (s Secret) IsSet() bool { return s != "" }

// Equal compares the secret with a presented value in constant time.
func (s Secret) Equal(presented string) bool {
	if s == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(s), []byte(presented)) == 1
}

func (s Secret) String() string             { return redacted }
func (s Secret) GoString() string           { return `secrets.Secret("` + redacted + `")` }
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }
func (s Secret) LogValue() slog.Value       { return slog.StringValue(redacted) }

// MarshalJSON never writes the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// UnmarshalJSON reads the value (MarshalJSON's counterpart is deliberately
// not symmetric).
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("a secret must be a JSON string")
	}
	*s = Secret(v)
	return nil
}

// Credentials is one connection's secret set, stored as one JSON secret.
type Credentials struct {
	// AlisQI API token (Integration hub), sent as a Bearer token.
	AlisQIToken Secret `json:"alisqiToken"`
	// ERP OAuth2 client credentials (Business Central, S/4HANA, Exact).
	ERPClientID     string `json:"erpClientId,omitempty"`
	ERPClientSecret Secret `json:"erpClientSecret,omitempty"`
	// WebhookSecret signs generic webhooks (HMAC-SHA256) and is Exact's hash key.
	WebhookSecret Secret `json:"webhookSecret,omitempty"`
	// ClientState is the Business Central subscription's shared secret.
	ClientState Secret `json:"clientState,omitempty"`
	// DecisionToken authenticates AlisQI's workflow POST (a custom header).
	DecisionToken Secret `json:"decisionToken,omitempty"`
}

// Parse decodes a credential set; errors never quote the input.
func Parse(connection string, raw []byte) (*Credentials, error) {
	var c Credentials
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("secret of connection %s is not a credential set (want a JSON object with alisqiToken, ...): %s", connection, safeJSONError(err))
	}
	if !c.AlisQIToken.IsSet() {
		return nil, fmt.Errorf("secret of connection %s has no alisqiToken", connection)
	}
	return &c, nil
}

// safeJSONError describes a decoding error without any of the input.
func safeJSONError(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("invalid JSON at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("field %s has the wrong type", e.Field)
	}
	msg := err.Error()
	if len(msg) > 23 && msg[:23] == "json: unknown field \"" {
		return msg // names a field of ours, not a value
	}
	return "malformed"
}

// Source reads a connection's credentials.
type Source interface {
	Credentials(ctx context.Context, connection string) (*Credentials, error)
}

// Cache keeps each connection's credentials for TTL (default 5 minutes),
// so a warm Lambda does not call Secrets Manager per invocation, and a
// rotated secret is picked up within TTL.
type Cache struct {
	src Source
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]cached
}

type cached struct {
	creds *Credentials
	at    time.Time
}

// NewCache wraps src; ttl 0 means 5 minutes.
func NewCache(src Source, ttl time.Duration) *Cache {
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	return &Cache{src: src, ttl: ttl, now: time.Now, entries: map[string]cached{}}
}

// Credentials implements Source.
func (c *Cache) Credentials(ctx context.Context, connection string) (*Credentials, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[connection]; ok && c.now().Sub(e.at) < c.ttl {
		return e.creds, nil
	}
	creds, err := c.src.Credentials(ctx, connection)
	if err != nil {
		if e, ok := c.entries[connection]; ok {
			// Keep serving the last good value through an outage of the source.
			return e.creds, nil
		}
		return nil, err
	}
	c.entries[connection] = cached{creds: creds, at: c.now()}
	return creds, nil
}
