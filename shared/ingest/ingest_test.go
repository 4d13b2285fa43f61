package ingest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/qbridge/qbridge/shared/connections"
	"github.com/qbridge/qbridge/shared/envelope"
	"github.com/qbridge/qbridge/shared/erp/generic"
	"github.com/qbridge/qbridge/shared/ingest"
	"github.com/qbridge/qbridge/shared/queue"
	"github.com/qbridge/qbridge/shared/queue/embedded"
	"github.com/qbridge/qbridge/shared/secrets"
	"github.com/qbridge/qbridge/shared/spec"
	"github.com/qbridge/qbridge/shared/sqlitedb"
)

type creds struct{}

func (creds) Credentials(context.Context, string) (*secrets.Credentials, error) {
	return &secrets.Credentials{AlisQIToken: "t", ERPClientID: "id", ERPClientSecret: "s", ClientState: "cs-1", WebhookSecret: "wh-1"}, nil
}

type brokenQueue struct{ queue.Queue }

func (brokenQueue) Send(context.Context, []queue.Outgoing) error {
	return errors.New("dial tcp: connection refused")
}

func service(t *testing.T, q queue.Queue) *ingest.Service {
	t.Helper()
	var specs []*spec.Spec
	for _, f := range []string{"businesscentral", "generic"} {
		s, err := spec.Load("../../testdata/specs/" + f + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s)
	}
	reg, err := connections.New(specs, connections.Options{Secrets: creds{}})
	if err != nil {
		t.Fatal(err)
	}
	return &ingest.Service{Connections: reg, Inbound: q, MaxBody: 4096, MetricsOut: io.Discard}
}

func inbound(t *testing.T) *embedded.Queue {
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b, _ := embedded.NewBroker(db)
	return b.Queue("inbound", embedded.Config{})
}

func request(method, conn, body string, headers, query map[string]string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{RouteKey: method + " /erp/{connection}/events", PathParameters: map[string]string{"connection": conn},
		Headers: headers, QueryStringParameters: query, Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method}}}
}

func signed(body string, at time.Time) map[string]string {
	ts, sig := generic.Sign("wh-1", at, []byte(body))
	return map[string]string{"x-qbridge-timestamp": ts, "x-qbridge-signature": sig}
}

const bcNotice = `{"value":[{"subscriptionId":"s","clientState":"%s","resource":"api/v2.0/companies(c)/items(26814998-5a0d-ee11-8f6e-6045bdc8c192)","changeType":"updated","lastModifiedDateTime":"2026-12-04T10:00:00Z"}]}`

func TestStatusCodes(t *testing.T) {
	q := inbound(t)
	svc := service(t, q)
	good := `{"entity":"items","record":{"sku":"NW-1","name":"Rye","changedAt":"2026-12-04T10:00:00Z"}}`
	tests := []struct {
		name   string
		req    events.APIGatewayV2HTTPRequest
		status int
		body   string // a substring of the answer
	}{
		{"generic accepted", request("POST", "northwind", good, signed(good, time.Now()), nil), 202, `"accepted":1`},
		{"tampered signature", request("POST", "northwind", strings.Replace(good, "Rye", "Rice", 1), signed(good, time.Now()), nil), 401, "signature does not match"},
		{"replayed timestamp", request("POST", "northwind", good, signed(good, time.Now().Add(-10*time.Minute)), nil), 401, "tolerance"},
		{"no signature", request("POST", "northwind", good, nil, nil), 401, "missing X-Qbridge-Timestamp"},
		{"malformed", request("POST", "northwind", `{"events":[{"entity":"items"}]}`, signed(`{"events":[{"entity":"items"}]}`, time.Now()), nil), 400, "needs a record"},
		{"oversize", request("POST", "northwind", strings.Repeat("x", 5000), nil, nil), 413, "limit"},
		{"wrong connection", request("POST", "acme-nope", good, signed(good, time.Now()), nil), 404, `unknown connection \"acme-nope\"`},
		{"wrong method", request("PUT", "northwind", good, nil, nil), 405, "use POST"},
		{"BC handshake GET", request("GET", "acme-bc", "", nil, map[string]string{"validationToken": "tok-9"}), 200, "tok-9"},
		{"BC handshake POST", request("POST", "acme-bc", "", nil, map[string]string{"validationToken": "tok-8"}), 200, "tok-8"},
		{"BC notification", request("POST", "acme-bc", strings.Replace(bcNotice, "%s", "cs-1", 1), nil, nil), 202, `"accepted":1`},
		{"BC missing clientState", request("POST", "acme-bc", strings.Replace(bcNotice, "%s", "", 1), nil, nil), 401, "no clientState"},
		{"BC wrong clientState", request("POST", "acme-bc", strings.Replace(bcNotice, "%s", "cs-2", 1), nil, nil), 401, "clientState does not match"},
		{"generic signature on BC", request("POST", "acme-bc", good, signed(good, time.Now()), nil), 400, "value"},
	}
	for _, tt := range tests {
		resp, err := svc.HandleHTTP(context.Background(), tt.req)
		if err != nil {
			t.Fatalf("%s: handler error %v", tt.name, err)
		}
		if resp.StatusCode != tt.status || !strings.Contains(resp.Body, tt.body) {
			t.Errorf("%s: %d %s, want %d containing %q", tt.name, resp.StatusCode, resp.Body, tt.status, tt.body)
		}
	}
	msgs, err := q.Receive(context.Background(), 10, 0)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("queued %d messages, want 2 (one per accepted request)", len(msgs))
	}
	env, err := envelope.Unpack(msgs[0].Body)
	if err != nil || len(env.Events) != 1 || env.Events[0].Key == "" || msgs[0].Attributes[envelope.AttrConnection] == "" {
		t.Errorf("queued %+v %v", env, err)
	}
}

// A transient fault is a 503, never a 4xx: BC deletes a subscription on a 4xx.
func TestQueueTroubleIs503(t *testing.T) {
	svc := service(t, brokenQueue{})
	resp, _ := svc.HandleHTTP(context.Background(), request("POST", "acme-bc", strings.Replace(bcNotice, "%s", "cs-1", 1), nil, nil))
	if resp.StatusCode != 503 || strings.Contains(resp.Body, "refused") {
		t.Errorf("%d %s", resp.StatusCode, resp.Body)
	}
}

func TestBase64BodyAndIDs(t *testing.T) {
	q := inbound(t)
	svc := service(t, q)
	body := `{"events":[{"entity":"items","record":{"sku":"A","name":"a","changedAt":"2026-12-04T10:00:00Z"}},{"entity":"lots","key":"L-1","action":"deleted"}]}`
	req := request("POST", "northwind", base64.StdEncoding.EncodeToString([]byte(body)), signed(body, time.Now()), nil)
	req.IsBase64Encoded = true
	resp, _ := svc.HandleHTTP(context.Background(), req)
	var acc ingest.Accepted
	if err := json.Unmarshal([]byte(resp.Body), &acc); err != nil || resp.StatusCode != 202 || acc.Accepted != 2 || len(acc.IDs) != 2 || acc.IDs[0] == "" {
		t.Errorf("%d %s", resp.StatusCode, resp.Body)
	}
}
