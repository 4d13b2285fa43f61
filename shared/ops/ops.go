// Package ops is the operators' API and console: health, KPIs, the dead
// letters (inspect, replay, discard — each audited with who, when and why),
// a mapping preview that writes nothing, and the audit trail.
//
// Every route needs an authenticated caller: in AWS the HTTP API's IAM
// authorizer (the identity arrives in requestContext.authorizer), locally
// the runner's operator token. A request without one is refused here too.
package ops

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/qbridge/qbridge/shared/connections"
	"github.com/qbridge/qbridge/shared/httpapi"
	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/queue"
	"github.com/qbridge/qbridge/shared/store"
)

// Gauge reports a queue's depth.
type Gauge interface {
	Depth(ctx context.Context) (visible, inFlight int, err error)
}

// Ager is a queue that also knows its oldest message's age (the embedded
// queue; in AWS the InboundBacklog alarm watches that metric).
type Ager interface {
	Oldest(ctx context.Context) (time.Duration, error)
}

// DeadLetterQueue is one dead-letter queue an operator works on.
type DeadLetterQueue struct {
	Name    string
	Queue   Gauge
	Letters queue.DeadLetters
}

// Service is the ops flow.
type Service struct {
	Connections *connections.Registry
	Audit       store.Audit
	Watermarks  store.Watermarks
	Limiter     store.RateLimiter
	Inbound     Gauge
	DeadLetters []DeadLetterQueue
	Log         *slog.Logger
	Now         func() time.Time
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

// Actor names the authenticated caller, or "" when there is none.
func Actor(req events.APIGatewayV2HTTPRequest) string {
	a := req.RequestContext.Authorizer
	switch {
	case a == nil:
		return ""
	case a.IAM != nil && a.IAM.UserARN != "":
		return a.IAM.UserARN
	case a.IAM != nil && a.IAM.UserID != "":
		return a.IAM.UserID
	case a.JWT != nil && a.JWT.Claims["sub"] != "":
		return "jwt:" + a.JWT.Claims["sub"]
	}
	return ""
}

// HandleHTTP is the Lambda handler (HTTP API, payload 2.0).
func (s *Service) HandleHTTP(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	method, path := httpapi.Method(req), strings.TrimSuffix(req.RawPath, "/")
	// The page itself holds no data: it loads without credentials and sends
	// them with each API call.
	if method == http.MethodGet && (path == "/ops" || path == "/ops/console") {
		return console(), nil
	}
	actor := Actor(req)
	if actor == "" {
		return httpapi.Error(model.Errorf(model.EUnauthorized, "the ops API needs an authenticated operator")), nil
	}
	resp, err := s.route(ctx, method, path, req, actor)
	if err != nil {
		if model.ErrorCode(err) == model.EInternal || model.ErrorCode(err) == model.EUnavailable {
			s.log().ErrorContext(ctx, "ops", "path", path, "error", err.Error())
		}
		return httpapi.Error(err), nil
	}
	return resp, nil
}

func (s *Service) route(ctx context.Context, method, path string, req events.APIGatewayV2HTTPRequest, actor string) (events.APIGatewayV2HTTPResponse, error) {
	q := req.QueryStringParameters
	switch {
	case method == http.MethodGet && path == "/ops/health":
		h := s.health(ctx)
		status := http.StatusOK
		if !h.Healthy {
			status = http.StatusServiceUnavailable
		}
		return httpapi.JSON(status, h), nil
	case method == http.MethodGet && path == "/ops/kpis":
		k, err := s.kpis(ctx, q["connection"], hours(q["hours"], 24))
		return jsonOr(k, err)
	case method == http.MethodGet && path == "/ops/audit":
		recs, err := s.audit(ctx, q["connection"], q["entity"], q["key"], hours(q["hours"], 24))
		return jsonOr(recs, err)
	case method == http.MethodGet && path == "/ops/deadletters":
		dls, err := s.deadLetters(ctx)
		return jsonOr(dls, err)
	case method == http.MethodPost && strings.HasPrefix(path, "/ops/deadletters/"):
		id, action, ok := strings.Cut(strings.TrimPrefix(path, "/ops/deadletters/"), "/")
		if !ok || (action != "replay" && action != "discard") {
			return events.APIGatewayV2HTTPResponse{}, model.Errorf(model.ENotFound, "no such route: use /ops/deadletters/{id}/replay or /discard")
		}
		body, err := httpapi.Body(req)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		res, err := s.act(ctx, id, action, body, actor)
		return jsonOr(res, err)
	case method == http.MethodPost && path == "/ops/preview":
		body, err := httpapi.Body(req)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		p, err := s.preview(ctx, body)
		return jsonOr(p, err)
	case method == http.MethodGet && path == "/ops/connections":
		return httpapi.JSON(http.StatusOK, s.connectionsInfo()), nil
	}
	return events.APIGatewayV2HTTPResponse{}, model.Errorf(model.ENotFound, "no route %s %s", method, path)
}

func jsonOr(v any, err error) (events.APIGatewayV2HTTPResponse, error) {
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return httpapi.JSON(http.StatusOK, v), nil
}

func hours(v string, def int) time.Duration {
	var n int
	for _, c := range v {
		if c < '0' || c > '9' {
			return time.Duration(def) * time.Hour
		}
		n = n*10 + int(c-'0')
	}
	if n <= 0 || n > 24*90 {
		n = def
	}
	return time.Duration(n) * time.Hour
}

// connectionsInfo lists connections and their entities, for the console.
func (s *Service) connectionsInfo() []map[string]any {
	var out []map[string]any
	for _, name := range s.Connections.Names() {
		c, _ := s.Connections.Get(name)
		out = append(out, map[string]any{"connection": name, "system": c.Spec.ERP.System, "entities": c.Spec.EntityOrder})
	}
	return out
}
