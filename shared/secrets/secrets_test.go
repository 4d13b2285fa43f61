package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

const token = "alisqi-token-7f3e9a"
const clientSecret = "erp-client-secret-q8Z"

func creds() *Credentials {
	return &Credentials{AlisQIToken: token, ERPClientID: "app-1", ERPClientSecret: clientSecret, WebhookSecret: "whsec-123", ClientState: "cs-456", DecisionToken: "dt-789"}
}

// No way of printing credentials shows a value.
func TestSecretsNeverPrint(t *testing.T) {
	c := creds()
	values := []string{token, clientSecret, "whsec-123", "cs-456", "dt-789"}
	var outs []string
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		outs = append(outs, fmt.Sprintf(f, c), fmt.Sprintf(f, *c), fmt.Sprintf(f, c.AlisQIToken))
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(b), fmt.Sprint(fmt.Errorf("call failed with %v", c.AlisQIToken)))
	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
		l := slog.New(h)
		l.Info("calling", "creds", c, "token", c.AlisQIToken, "group", slog.GroupValue(slog.Any("s", c.ClientState)))
	}
	outs = append(outs, logs.String())
	func() {
		defer func() { outs = append(outs, fmt.Sprint(recover())) }()
		panic(c.WebhookSecret)
	}()
	for _, out := range outs {
		for _, v := range values {
			if strings.Contains(out, v) {
				t.Errorf("secret value leaked in %q", out)
			}
		}
	}
	if !strings.Contains(string(b), "[redacted]") || c.AlisQIToken.Reveal() != token {
		t.Error("redaction or Reveal broken")
	}
}

func TestEqualIsConstantTimeAndStrict(t *testing.T) {
	s := Secret("cs-456")
	if !s.Equal("cs-456") || s.Equal("cs-45") || s.Equal("cs-4567") || s.Equal("") {
		t.Error("Equal wrong")
	}
	if Secret("").Equal("") {
		t.Error("an unset secret must never match")
	}
}

func TestParse(t *testing.T) {
	c, err := Parse("acme", []byte(`{"alisqiToken":"t1","erpClientId":"id","erpClientSecret":"s1"}`))
	if err != nil || c.AlisQIToken.Reveal() != "t1" || c.ERPClientSecret.Reveal() != "s1" {
		t.Fatalf("Parse = %+v, %v", c, err)
	}
	for _, raw := range []string{`{"alisqiToken": "t1-SECRETVALUE", `, `{"alisqiToken": 5}`, `{"erpClientId":"id"}`, `"t1-SECRETVALUE"`, `{"alisqiToken":"t1-SECRETVALUE","extra":"x"}`} {
		_, err := Parse("acme", []byte(raw))
		if err == nil {
			t.Errorf("Parse(%s) accepted", raw)
			continue
		}
		if strings.Contains(err.Error(), "SECRETVALUE") {
			t.Errorf("error quotes the secret: %v", err)
		}
	}
}

type countingSource struct {
	calls int
	err   error
}

func (s *countingSource) Credentials(context.Context, string) (*Credentials, error) {
	s.calls++
	if s.err != nil {
		return nil, s.err
	}
	return creds(), nil
}

func TestCache(t *testing.T) {
	src := &countingSource{}
	c := NewCache(src, 0)
	now := time.Unix(0, 0)
	c.now = func() time.Time { return now }
	for i := 0; i < 100; i++ { // a warm function's invocations
		if _, err := c.Credentials(context.Background(), "acme"); err != nil {
			t.Fatal(err)
		}
	}
	if src.calls != 1 {
		t.Errorf("%d calls for 100 invocations, want 1", src.calls)
	}
	now = now.Add(5 * time.Minute)
	_, _ = c.Credentials(context.Background(), "acme")
	if src.calls != 2 {
		t.Errorf("not refreshed after the TTL: %d calls", src.calls)
	}
	// A source outage after the TTL keeps the last good value.
	now = now.Add(6 * time.Minute)
	src.err = errors.New("throttled")
	if got, err := c.Credentials(context.Background(), "acme"); err != nil || got == nil {
		t.Errorf("outage: %v", err)
	}
	if _, err := c.Credentials(context.Background(), "other"); err == nil {
		t.Error("a never-read connection must fail when the source does")
	}
}
