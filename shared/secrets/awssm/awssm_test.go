package awssm

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/qbridge/qbridge/shared/awsenv"
	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/obs"
	"github.com/qbridge/qbridge/shared/secrets"
)

// fakeSecretsManager stands in for AWS Secrets Manager, which has no local
// emulator (see ../shared/EMULATORS.md). It speaks the real wire protocol:
// AWS JSON 1.1, X-Amz-Target secretsmanager.GetSecretValue, CreatedDate as
// epoch seconds, ResourceNotFoundException for unknown secrets.
func fakeSecretsManager(t *testing.T, secrets map[string]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.1") {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"__type":"InvalidRequestException","Message":"unsupported"}`))
			return
		}
		var in struct{ SecretId string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		v, ok := secrets[in.SecretId]
		if !ok {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"__type":"ResourceNotFoundException","Message":"Secrets Manager can't find the specified secret."}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + in.SecretId, "Name": in.SecretId,
			"SecretString": v, "VersionId": "v1", "VersionStages": []string{"AWSCURRENT"}, "CreatedDate": float64(time.Now().Unix()),
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSource(t *testing.T) {
	srv := fakeSecretsManager(t, map[string]string{"qbridge/acme-bc": `{"alisqiToken":"tok-XYZ","clientState":"cs-1"}`})
	meter := &obs.Meter{}
	client := secretsmanager.NewFromConfig(awsenv.Static("us-east-1", meter.APIOption), func(o *secretsmanager.Options) { o.BaseEndpoint = &srv.URL })
	src := secrets.NewCache(New(client, ""), 0)
	for i := 0; i < 10; i++ {
		c, err := src.Credentials(context.Background(), "acme-bc")
		if err != nil || c.AlisQIToken.Reveal() != "tok-XYZ" || !c.ClientState.Equal("cs-1") {
			t.Fatalf("Credentials = %+v, %v", c, err)
		}
	}
	if n := meter.Snapshot().Requests["Secrets Manager.GetSecretValue"]; n != 1 {
		t.Errorf("%d GetSecretValue calls for 10 invocations, want 1", n)
	}
	_, err := src.Credentials(context.Background(), "nope")
	if model.ErrorCode(err) != model.ENotFound || !strings.Contains(err.Error(), "qbridge/nope") {
		t.Errorf("unknown secret: %v (code %s)", err, model.ErrorCode(err))
	}
}
