package ops

import (
	_ "embed"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

//go:embed console.html
var consolePage string

// console serves the operators' page: it calls this API from the browser
// with the same credentials.
func console() events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Body: consolePage, Headers: map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
	}}
}
