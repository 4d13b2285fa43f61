// Package awssm reads connection credentials from AWS Secrets Manager: one
// JSON secret per connection, named {prefix}{connection}.
package awssm

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/secrets"
)

// API is the part of the Secrets Manager client the source uses.
type API interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Source reads {Prefix}{connection}.
type Source struct {
	api    API
	Prefix string // default "qbridge/"
}

var _ secrets.Source = (*Source)(nil)

// New returns a source; wrap it in secrets.NewCache.
func New(api API, prefix string) *Source {
	if prefix == "" {
		prefix = "qbridge/"
	}
	return &Source{api: api, Prefix: prefix}
}

// Credentials implements secrets.Source.
func (s *Source) Credentials(ctx context.Context, connection string) (*secrets.Credentials, error) {
	name := s.Prefix + connection
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &name})
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return nil, model.Errorf(model.ENotFound, "no secret %s for connection %s", name, connection)
	case err != nil:
		return nil, model.Wrap(model.EUnavailable, "secrets unavailable", fmt.Errorf("get secret %s: %w", name, err))
	case out.SecretString == nil:
		return nil, fmt.Errorf("secret %s has no string value (binary secrets are not supported)", name)
	}
	return secrets.Parse(connection, []byte(aws.ToString(out.SecretString)))
}
