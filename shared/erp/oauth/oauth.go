// Package oauth gets OAuth2 client-credentials tokens (Microsoft Entra for
// Business Central, SAP BTP for S/4HANA) and caches each until shortly before
// it expires; concurrent callers share one token request.
package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/secrets"
)

// ClientCredentials is one client's token source.
type ClientCredentials struct {
	TokenURL string
	ClientID string
	Secret   secrets.Secret
	Scope    string
	HTTP     *http.Client

	mu      sync.Mutex
	token   string
	expires time.Time
	now     func() time.Time
}

// Token returns a valid access token, fetching one when none is cached or
// the cached one expires within a minute.
func (c *ClientCredentials) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	if c.token != "" && now().Add(time.Minute).Before(c.expires) {
		return c.token, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {c.Secret.Reveal()}}
	if c.Scope != "" {
		form.Set("scope", c.Scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", model.Wrap(model.EUnavailable, "ERP token endpoint unreachable", fmt.Errorf("oauth token: %w", unwrapURL(err)))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &e)
		code := model.EUnavailable
		if resp.StatusCode == 400 || resp.StatusCode == 401 {
			code = model.EUnauthorized // wrong client id or secret: an operator must fix it
		}
		return "", model.Wrap(code, "ERP token request refused", fmt.Errorf("oauth token: %d %s", resp.StatusCode, e.Error))
	}
	var t struct {
		AccessToken string  `json:"access_token"`
		ExpiresIn   float64 `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return "", fmt.Errorf("oauth token: the answer has no access_token")
	}
	c.token, c.expires = t.AccessToken, now().Add(time.Duration(t.ExpiresIn)*time.Second)
	return c.token, nil
}

func unwrapURL(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err // its text would carry the URL
	}
	return err
}
