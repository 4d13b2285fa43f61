package httpapi

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/qbridge/qbridge/shared/model"
)

func TestStatusAndError(t *testing.T) {
	for code, want := range map[string]int{model.EInvalid: 400, model.EUnauthorized: 401, model.ENotFound: 404, model.EConflict: 409, model.ETooLarge: 413, model.EUnavailable: 503, model.EInternal: 500} {
		if got := Status(code); got != want {
			t.Errorf("Status(%s) = %d, want %d", code, got, want)
		}
	}
	r := Error(model.Wrap(model.EUnavailable, "queue unavailable", errors.New("dial tcp 10.1.2.3:443: i/o timeout")))
	if r.StatusCode != 503 || r.Body != `{"error":"queue unavailable"}` {
		t.Errorf("response = %+v", r)
	}
	if r := Error(errors.New("secret internals")); r.StatusCode != 500 || r.Body != `{"error":"internal error"}` {
		t.Errorf("plain error leaks: %+v", r)
	}
}

func TestBody(t *testing.T) {
	b, err := Body(events.APIGatewayV2HTTPRequest{Body: base64.StdEncoding.EncodeToString([]byte("hi")), IsBase64Encoded: true})
	if err != nil || string(b) != "hi" {
		t.Errorf("%q %v", b, err)
	}
	if _, err := Body(events.APIGatewayV2HTTPRequest{Body: "%%%", IsBase64Encoded: true}); model.ErrorCode(err) != model.EInvalid {
		t.Errorf("bad base64: %v", err)
	}
}
