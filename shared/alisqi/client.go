// Package alisqi is a client for AlisQI's REST API: the calls qbridge's
// flows use, every call under a token bucket shared by all functions and
// processes using the same AlisQI token (AlisQI allows 30 calls a minute
// per installation by default), 429 Retry-After honoured, 5xx and timeouts
// retried with exponential backoff and jitter. The token is sent only in the
// Authorization header and appears in no error or log line.
package alisqi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/qbridge/qbridge/shared/secrets"
	"github.com/qbridge/qbridge/shared/store"
	"github.com/qbridge/qbridge/shared/wait"
)

// Limiter is the shared token bucket (store.RateLimiter).
type Limiter interface {
	Take(ctx context.Context, bucket string, n int, rate store.Rate) (time.Duration, error)
	Block(ctx context.Context, bucket string, until time.Time) error
}

// Config configures a Client.
type Config struct {
	BaseURL     string // https://{subdomain}.alisqi.com/api/
	Token       secrets.Secret
	HTTP        *http.Client // default: 30 s timeout
	Limiter     Limiter      // nil: no shared limit
	PerMinute   int          // the installation's limit; default 30
	MaxAttempts int          // per call, 429s and retries included; default 6
	// Bucket names the shared bucket; default derived from the token's hash,
	// so everything using one token shares one bucket.
	Bucket string
}

// Client calls one AlisQI installation.
type Client struct {
	base    *url.URL
	token   secrets.Secret
	http    *http.Client
	limiter Limiter
	bucket  string
	rate    store.Rate
	max     int
	calls   atomic.Int64
	limited atomic.Int64 // 429 answers
	now     func() time.Time
	sleep   func(context.Context, time.Duration) error
}

// New returns a client.
func New(cfg Config) (*Client, error) {
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("alisqi: base URL %q is not an absolute URL", cfg.BaseURL)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	if !cfg.Token.IsSet() {
		return nil, errors.New("alisqi: no API token")
	}
	c := &Client{base: base, token: cfg.Token, http: cfg.HTTP, limiter: cfg.Limiter, bucket: cfg.Bucket,
		rate: store.Rate{PerMinute: cfg.PerMinute}, max: cfg.MaxAttempts, now: time.Now, sleep: wait.Sleep}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	if c.rate.PerMinute <= 0 {
		c.rate.PerMinute = 30
	}
	if c.max <= 0 {
		c.max = 6
	}
	if c.bucket == "" {
		sum := sha256.Sum256([]byte(cfg.Token.Reveal()))
		c.bucket = "alisqi:" + hex.EncodeToString(sum[:8])
	}
	return c, nil
}

// Calls returns how many HTTP requests the client has made.
func (c *Client) Calls() int64 { return c.calls.Load() }

// Throttled returns how many calls AlisQI answered with 429.
func (c *Client) Throttled() int64 { return c.limited.Load() }

// Bucket is the shared rate bucket's name (never the token).
func (c *Client) Bucket() string { return c.bucket }

// Error is a failed AlisQI call.
type Error struct {
	Call       string
	Status     int    // 0 for transport failures
	Message    string // AlisQI's {"error": "..."} or a description
	RetryAfter time.Duration
	// Ambiguous is set when the request may have been applied though no
	// answer came (a timeout on a write).
	Ambiguous bool
	err       error
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("alisqi %s: %s", e.Call, e.Message)
	}
	return fmt.Sprintf("alisqi %s: %d %s", e.Call, e.Status, e.Message)
}

func (e *Error) Unwrap() error { return e.err }

// Permanent reports whether AlisQI rejected the request's content: retrying
// the same request cannot succeed (a poison record, for a write). Auth
// failures are not permanent: they need an operator, not a dead letter.
func (e *Error) Permanent() bool {
	switch {
	case e.Status == 0, e.Status == 401, e.Status == 403, e.Status == 408, e.Status == 429:
		return false
	case e.Status >= 500:
		return false
	}
	return e.Status >= 400
}

// IsPermanent reports whether err is a permanent AlisQI rejection.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent()
}

type request struct {
	call       string
	method     string
	query      url.Values
	form       url.Values
	idempotent bool // safe to repeat after an ambiguous failure
}

// do performs one API call with rate limiting and retries.
func (c *Client) do(ctx context.Context, r request) ([]byte, error) {
	u := *c.base
	u.Path += r.call
	u.RawQuery = r.query.Encode()
	var last *Error
	for attempt := 0; attempt < c.max; attempt++ {
		if attempt > 0 && last.Status != 429 {
			if err := c.sleep(ctx, backoff(attempt)); err != nil {
				return nil, last
			}
		}
		if err := c.waitForToken(ctx, r.call); err != nil {
			return nil, err
		}
		body, e := c.once(ctx, r, u.String())
		if e == nil {
			return body, nil
		}
		last = e
		switch {
		case e.Permanent(), e.Status == 401, e.Status == 403:
			return nil, e
		case e.Ambiguous && !r.idempotent:
			return nil, e // repeating a non-idempotent write could apply it twice
		case ctx.Err() != nil:
			return nil, e
		case e.Status == 429:
			c.block(ctx, e.RetryAfter)
		}
	}
	return nil, last
}

func (c *Client) waitForToken(ctx context.Context, call string) error {
	if c.limiter == nil {
		return nil
	}
	for {
		wait, err := c.limiter.Take(ctx, c.bucket, 1, c.rate)
		if err != nil {
			return &Error{Call: call, Message: "rate limiter unavailable", err: err}
		}
		if wait == 0 {
			return nil
		}
		if dl, ok := ctx.Deadline(); ok && c.now().Add(wait).After(dl) {
			return &Error{Call: call, Status: 429, Message: fmt.Sprintf("rate limit: the next call is %v away, past the deadline", wait.Round(time.Millisecond)), RetryAfter: wait}
		}
		if err := c.sleep(ctx, wait); err != nil {
			return &Error{Call: call, Message: "cancelled while waiting for the rate limit", err: err}
		}
	}
}

func (c *Client) block(ctx context.Context, retryAfter time.Duration) {
	if c.limiter == nil {
		_ = c.sleep(ctx, retryAfter)
		return
	}
	// Best effort: a failed Block only means another caller may hit the 429 too.
	_ = c.limiter.Block(ctx, c.bucket, c.now().Add(retryAfter))
}

func (c *Client) once(ctx context.Context, r request, target string) ([]byte, *Error) {
	var body io.Reader
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, &Error{Call: r.call, Message: "bad request", err: err}
	}
	req.Header.Set("Authorization", "Bearer "+c.token.Reveal())
	req.Header.Set("Accept", "application/json")
	if r.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	c.calls.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &Error{Call: r.call, Message: transportMessage(err), Ambiguous: r.method != http.MethodGet, err: scrub(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, &Error{Call: r.call, Status: 0, Message: "reading the response: " + transportMessage(err), Ambiguous: r.method != http.MethodGet, err: scrub(err)}
	}
	retryAfter := seconds(resp.Header.Get("X-RateLimit-Retry-After"))
	if resp.Header.Get("X-RateLimit-Remaining") == "0" && resp.StatusCode != 429 {
		// The call got through but the budget is spent: tell the other callers.
		c.block(ctx, max(retryAfter, time.Second))
	}
	if resp.StatusCode == http.StatusNotModified || resp.StatusCode/100 == 2 {
		return data, nil
	}
	e := &Error{Call: r.call, Status: resp.StatusCode, Message: errorMessage(data, resp.Status)}
	if resp.StatusCode == 429 {
		c.limited.Add(1)
		e.RetryAfter = max(retryAfter, time.Second)
		if retryAfter == 0 {
			e.RetryAfter = 60 * time.Second / time.Duration(c.rate.PerMinute)
		}
	}
	return nil, e
}

func seconds(h string) time.Duration {
	n, err := strconv.ParseFloat(strings.TrimSpace(h), 64)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n * float64(time.Second))
}

// errorMessage reads AlisQI's {"error": "..."}, else the status text.
func errorMessage(body []byte, status string) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	return status
}

// transportMessage says what went wrong without the URL's query or any header.
func transportMessage(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	if errors.Is(err, context.Canceled) {
		return "cancelled"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "deadline exceeded"
	}
	return "connection failed"
}

// scrub drops the *url.Error wrapper, whose text carries the request URL.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// backoff is exponential with full jitter: 250 ms doubling, capped at 8 s.
func backoff(attempt int) time.Duration {
	ceiling := min(8*time.Second, 250*time.Millisecond<<min(attempt-1, 6))
	return time.Duration(rand.Int64N(int64(ceiling))) + 50*time.Millisecond
}
