// Package ingest is the ERP webhook endpoint: POST /erp/{connection}/events
// (and Business Central's validation handshake on the same URL). It
// verifies the caller with the connection's ERP adapter, turns the request
// into canonical change events, packs them into queue messages and answers
// 202 at once; dispatch does the rest.
//
// Status codes: 202 queued (with event ids); 200 handshake; 400 malformed,
// with the precise reason; 401 bad or missing signature; 404 unknown
// connection; 405 wrong method; 413 body over the limit; and 503 — never a
// 4xx — for anything transient (BC deletes a subscription on a 4xx other
// than 408 and 429).
package ingest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/qbridge/qbridge/shared/connections"
	"github.com/qbridge/qbridge/shared/envelope"
	"github.com/qbridge/qbridge/shared/erp"
	"github.com/qbridge/qbridge/shared/httpapi"
	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/obs"
	"github.com/qbridge/qbridge/shared/queue"
)

// DefaultMaxBody is the body limit unless configured (QBRIDGE_MAX_BODY_BYTES).
const DefaultMaxBody = 1 << 20

// Service is the ingest flow.
type Service struct {
	Connections *connections.Registry
	Inbound     queue.Queue
	MaxBody     int
	Log         *slog.Logger
	MetricsOut  io.Writer // EMF lines; default stdout, where Lambda collects them
	Now         func() time.Time
}

// Accepted is the 202 body.
type Accepted struct {
	Accepted int      `json:"accepted"`
	IDs      []string `json:"ids"`
}

// HandleHTTP is the Lambda handler (HTTP API, payload 2.0). It never
// returns an error: every outcome is an HTTP answer.
func (s *Service) HandleHTTP(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	start := s.now()
	name := req.PathParameters["connection"]
	resp, n, err := s.handle(ctx, name, req)
	if err != nil {
		resp = httpapi.Error(err)
	}
	attrs := []any{"connection", name, "status", resp.StatusCode, "events", n, "ms", s.now().Sub(start).Milliseconds()}
	if err != nil {
		// The full error goes to the log only; the caller got the safe message.
		attrs = append(attrs, "error", err.Error())
	}
	s.log().LogAttrs(ctx, level(resp.StatusCode), "ingest", slog.Group("request", attrs...))
	m := obs.NewMetrics("qbridge", map[string]string{"Flow": "ingest", "Connection": name})
	m.Count("requests", 1)
	m.Count("events", n)
	m.Count(statusClass(resp.StatusCode), 1)
	out := s.MetricsOut
	if out == nil {
		out = os.Stdout
	}
	_ = m.Write(out, s.now())
	return resp, nil
}

func (s *Service) handle(ctx context.Context, name string, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, int, error) {
	conn, ok := s.Connections.Get(name)
	if !ok {
		return events.APIGatewayV2HTTPResponse{}, 0, model.Errorf(model.ENotFound, "unknown connection %q", name)
	}
	method := httpapi.Method(req)
	query := url.Values{}
	for k, v := range req.QueryStringParameters {
		query.Set(k, v)
	}
	if method != http.MethodPost && !(method == http.MethodGet && query.Has("validationToken")) {
		return httpapi.JSON(http.StatusMethodNotAllowed, map[string]string{"error": "use POST"}), 0, nil
	}
	limit := s.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	if len(req.Body) > limit*4/3+4 { // cheap check before decoding base64
		return events.APIGatewayV2HTTPResponse{}, 0, model.Errorf(model.ETooLarge, "body is over the %d-byte limit", limit)
	}
	body, err := httpapi.Body(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, 0, err
	}
	if len(body) > limit {
		return events.APIGatewayV2HTTPResponse{}, 0, model.Errorf(model.ETooLarge, "body is %d bytes, over the %d-byte limit", len(body), limit)
	}
	adapter, err := s.Connections.Adapter(ctx, conn)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, 0, err
	}
	in, err := adapter.Receive(ctx, erp.Request{Method: method, Query: query, Header: httpapi.Header(req), Body: body, ReceivedAt: s.now().UTC()})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, 0, err
	}
	if in.Reply != nil {
		return events.APIGatewayV2HTTPResponse{StatusCode: in.Reply.Status, Headers: map[string]string{"Content-Type": in.Reply.ContentType}, Body: string(in.Reply.Body)}, 0, nil
	}
	msgs, err := envelope.Pack(name, in.Events, nil)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, 0, model.Wrap(model.EInvalid, "an event is too large to queue", err)
	}
	if err := s.Inbound.Send(ctx, msgs); err != nil {
		return events.APIGatewayV2HTTPResponse{}, 0, model.Wrap(model.EUnavailable, "queue unavailable, try again", err)
	}
	ids := make([]string, len(in.Events))
	for i, e := range in.Events {
		ids[i] = e.ID
	}
	return httpapi.JSON(http.StatusAccepted, Accepted{Accepted: len(ids), IDs: ids}), len(ids), nil
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func level(status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case status >= 400:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

func statusClass(status int) string {
	return map[int]string{2: "status2xx", 4: "status4xx", 5: "status5xx"}[status/100]
}
