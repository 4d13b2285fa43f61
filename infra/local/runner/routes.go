package runner

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/qbridge/qbridge/shared/httpapi"
)

// serve starts the API: the HTTP API's routes, and the sandbox controls.
func (r *Runner) serve(addr string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/erp/{connection}/events", func(w http.ResponseWriter, req *http.Request) {
		body, ok := readBody(w, req)
		if !ok {
			return
		}
		ev := httpapi.ToEvent(req, req.Method+" /erp/{connection}/events", map[string]string{"connection": req.PathValue("connection")}, body)
		resp, _ := r.Ingest.HandleHTTP(req.Context(), ev)
		httpapi.WriteResponse(w, resp)
	})
	mux.HandleFunc("/ops/", r.opsRoute)
	mux.HandleFunc("/ops", r.opsRoute)
	mux.HandleFunc("/sandbox/", r.sandboxRoute)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, "/ops/console", http.StatusFound)
	})
	url, err := r.startServer(addr, mux)
	r.URL = url
	return err
}

func readBody(w http.ResponseWriter, req *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 10<<20))
	if err != nil {
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return nil, false
	}
	return body, true
}

// opsRoute plays the HTTP API's authorizer: a request with the operator
// token arrives with an identity, any other without one (and is refused).
func (r *Runner) opsRoute(w http.ResponseWriter, req *http.Request) {
	body, ok := readBody(w, req)
	if !ok {
		return
	}
	ev := httpapi.ToEvent(req, req.Method+" /ops/{proxy+}", map[string]string{"proxy": strings.TrimPrefix(req.URL.Path, "/ops/")}, body)
	given := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
	if given != "" && subtle.ConstantTimeCompare([]byte(given), []byte(r.OpsToken)) == 1 {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: "local:operator"}}
	}
	resp, _ := r.Ops.HandleHTTP(req.Context(), ev)
	httpapi.WriteResponse(w, resp)
}

// sandboxRoute controls the SANDBOXES (never a real system):
//
//	POST /sandbox/{connection}/bc/{collection...}  create or update a BC record; BC notifies qbridge
//	GET  /sandbox/{connection}/alisqi/{set}        the AlisQI sandbox's results of a set
func (r *Runner) sandboxRoute(w http.ResponseWriter, req *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(req.URL.Path, "/sandbox/"), "/", 3)
	writeJSON := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	if len(parts) < 3 {
		writeJSON(http.StatusNotFound, map[string]string{"error": "use /sandbox/{connection}/bc/{collection} or /sandbox/{connection}/alisqi/{set}"})
		return
	}
	sb := r.Sandboxes[parts[0]]
	if sb == nil {
		writeJSON(http.StatusNotFound, map[string]string{"error": "connection " + parts[0] + " is not running against sandboxes"})
		return
	}
	switch {
	case parts[1] == "bc" && req.Method == http.MethodPost && sb.BC != nil:
		var rec map[string]any
		if err := json.NewDecoder(io.LimitReader(req.Body, 1<<20)).Decode(&rec); err != nil {
			writeJSON(http.StatusBadRequest, map[string]string{"error": "the body must be a JSON record"})
			return
		}
		stored := sb.BC.Put(parts[2], rec)
		_ = sb.BC.Flush(req.Context())
		writeJSON(http.StatusCreated, stored)
	case parts[1] == "alisqi" && req.Method == http.MethodGet:
		set, err := strconv.Atoi(parts[2])
		if err != nil {
			writeJSON(http.StatusBadRequest, map[string]string{"error": "the set is a number"})
			return
		}
		results := sb.AlisQI.Results(set)
		if results == nil {
			results = []map[string]any{}
		}
		writeJSON(http.StatusOK, results)
	default:
		writeJSON(http.StatusNotFound, map[string]string{"error": "no such sandbox control"})
	}
}
