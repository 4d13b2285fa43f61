// Package httpapi turns API Gateway HTTP API (payload 2.0) events into what
// qbridge's handlers need and builds their responses. Error codes map to
// HTTP statuses here and nowhere else; a client sees the caller-safe message
// only, never internal detail.
package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/qbridge/qbridge/shared/model"
)

// Status maps an error code to its HTTP status.
func Status(code string) int {
	switch code {
	case model.EInvalid:
		return http.StatusBadRequest
	case model.EUnauthorized:
		return http.StatusUnauthorized
	case model.ENotFound:
		return http.StatusNotFound
	case model.EConflict:
		return http.StatusConflict
	case model.ETooLarge:
		return http.StatusRequestEntityTooLarge
	case model.EUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Body returns the request body, base64-decoded when API Gateway encoded it.
func Body(req events.APIGatewayV2HTTPRequest) ([]byte, error) {
	if !req.IsBase64Encoded {
		return []byte(req.Body), nil
	}
	b, err := base64.StdEncoding.DecodeString(req.Body)
	if err != nil {
		return nil, model.Errorf(model.EInvalid, "body is marked base64 but does not decode")
	}
	return b, nil
}

// Header returns the request headers as an http.Header (API Gateway
// lower-cases names; multi-valued headers arrive comma-joined).
func Header(req events.APIGatewayV2HTTPRequest) http.Header {
	h := make(http.Header, len(req.Headers))
	for k, v := range req.Headers {
		h.Set(k, v)
	}
	return h
}

// JSON builds a JSON response.
func JSON(status int, v any) events.APIGatewayV2HTTPResponse {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(b)}
}

// Error builds the response for err: its code's status and its safe message.
func Error(err error) events.APIGatewayV2HTTPResponse {
	return JSON(Status(model.ErrorCode(err)), map[string]string{"error": model.ErrorMessage(err)})
}

// Method returns the request's HTTP method.
func Method(req events.APIGatewayV2HTTPRequest) string {
	return strings.ToUpper(req.RequestContext.HTTP.Method)
}

// ToEvent converts a net/http request into the HTTP API payload 2.0 event
// API Gateway would send for it, so a handler cannot tell the difference
// (the local runner and tests serve handlers this way). Binary bodies are
// base64-encoded as API Gateway does.
func ToEvent(r *http.Request, routeKey string, pathParameters map[string]string, body []byte) events.APIGatewayV2HTTPRequest {
	headers := make(map[string]string, len(r.Header))
	for k, v := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	query := make(map[string]string, len(r.URL.Query()))
	for k, v := range r.URL.Query() {
		query[k] = strings.Join(v, ",")
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: routeKey, RawPath: r.URL.Path, RawQueryString: r.URL.RawQuery,
		Headers: headers, QueryStringParameters: query, PathParameters: pathParameters,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: routeKey, Stage: "$default", RequestID: r.Header.Get("X-Request-Id"),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: r.RemoteAddr, UserAgent: r.UserAgent()},
		},
	}
	if utf8.Valid(body) {
		ev.Body = string(body)
	} else {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return ev
}

// WriteResponse writes a handler's response to a net/http response.
func WriteResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = b
		}
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
