// Package adapters builds the ERP adapter a spec's erp.system names.
package adapters

import (
	"fmt"
	"net/http"

	"github.com/qbridge/qbridge/shared/erp"
	"github.com/qbridge/qbridge/shared/erp/businesscentral"
	"github.com/qbridge/qbridge/shared/erp/generic"
	"github.com/qbridge/qbridge/shared/mapping"
	"github.com/qbridge/qbridge/shared/secrets"
	"github.com/qbridge/qbridge/shared/spec"
)

// New returns the adapter for s.
func New(s *spec.Spec, plans *mapping.Plans, creds *secrets.Credentials, client *http.Client) (erp.Adapter, error) {
	switch s.ERP.System {
	case "businesscentral":
		return businesscentral.New(s, plans, creds, client)
	case "generic":
		return generic.New(s, plans, creds, client), nil
	}
	return nil, fmt.Errorf("erp.system %q has no adapter in this build (available: businesscentral, generic)", s.ERP.System)
}
