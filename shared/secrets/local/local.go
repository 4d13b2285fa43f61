// Package local reads connection credentials for the local runner: from
// the environment variable QBRIDGE_SECRET_{CONNECTION} (upper case, dashes
// as underscores) holding the JSON credential set, else from a JSON file
// mapping connection names to credential sets.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/secrets"
)

// Source reads the environment, then File.
type Source struct {
	File string // may be empty or missing
}

var _ secrets.Source = (*Source)(nil)

// EnvName is the variable that holds a connection's credentials.
func EnvName(connection string) string {
	return "QBRIDGE_SECRET_" + strings.ToUpper(strings.ReplaceAll(connection, "-", "_"))
}

// Credentials implements secrets.Source.
func (s *Source) Credentials(_ context.Context, connection string) (*secrets.Credentials, error) {
	if v := os.Getenv(EnvName(connection)); v != "" {
		return secrets.Parse(connection, []byte(v))
	}
	if s.File == "" {
		return nil, model.Errorf(model.ENotFound, "no credentials for connection %s: set %s", connection, EnvName(connection))
	}
	data, err := os.ReadFile(s.File)
	if errors.Is(err, os.ErrNotExist) {
		return nil, model.Errorf(model.ENotFound, "no credentials for connection %s: set %s or write %s", connection, EnvName(connection), s.File)
	}
	if err != nil {
		return nil, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object of connections", s.File)
	}
	raw, ok := all[connection]
	if !ok {
		return nil, model.Errorf(model.ENotFound, "no credentials for connection %s in %s; add it there or set %s", connection, s.File, EnvName(connection))
	}
	return secrets.Parse(connection, raw)
}
