package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/secretbox"
	"github.com/windflow/monitor/internal/store"
)

// TLS material of tcp:// environments. Requests carry it in PEM
// ("tls": {"ca": …, "cert": …, "key": …}); it is checked (engine.CheckTLS),
// sealed with Server.Secrets for the environment's ID (engine.SealTLS) and
// stored sealed. Answers only say what there is (tlsView); errors name the
// field at fault, never its content.

// Sealer seals and opens secrets at rest; *secretbox.Box implements it.
type Sealer = engine.Sealer

// tlsRequest is the TLS material of a request, in PEM. Every field is
// optional, but cert and key go together; {} means TLS verified against
// the system roots without a client certificate.
type tlsRequest struct {
	CA   string `json:"ca"`
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

func (t *tlsRequest) material() *engine.TLSMaterial {
	if t == nil {
		return nil
	}
	return &engine.TLSMaterial{CA: []byte(t.CA), Cert: []byte(t.Cert), Key: []byte(t.Key)}
}

// optionalTLS tells an absent "tls" (keep) from "tls": null (remove) in a PATCH.
type optionalTLS struct {
	set   bool
	value *tlsRequest
}

func (o *optionalTLS) UnmarshalJSON(b []byte) error {
	o.set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.value = nil
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var v tlsRequest
	if err := dec.Decode(&v); err != nil {
		// json's messages name fields and types, never string values.
		return fmt.Errorf("tls: %w", err)
	}
	o.value = &v
	return nil
}

// tlsView is what answers show of an environment's TLS material.
type tlsView struct {
	// CA: the material has its own CA (else the system roots are used).
	CA bool `json:"ca"`
	// ClientCert: it has a client certificate, with this subject and expiry.
	ClientCert         bool       `json:"clientCert"`
	ClientCertSubject  string     `json:"clientCertSubject,omitempty"`
	ClientCertNotAfter *time.Time `json:"clientCertNotAfter,omitempty"`
}

func tlsViewOf(t *store.EnvironmentTLS) *tlsView {
	if t == nil {
		return nil
	}
	v := &tlsView{CA: t.CA, ClientCert: t.ClientCert, ClientCertSubject: t.ClientCertSubject}
	if t.ClientCert {
		notAfter := t.ClientCertNotAfter
		v.ClientCertNotAfter = &notAfter
	}
	return v
}

// sealTLS checks m for endpoint and seals it for the environment id; nil m
// gives nil. Bad material is a 400 naming the field at fault; a server
// without a secret key answers 400 tls_unavailable.
func (s *Server) sealTLS(id uuid.UUID, endpoint string, m *engine.TLSMaterial) (*store.EnvironmentTLS, error) {
	if m == nil {
		return nil, nil
	}
	info, err := engine.CheckTLS(endpoint, *m)
	switch {
	case errors.Is(err, engine.ErrBadEndpoint):
		return nil, errorf(http.StatusBadRequest, "invalid_endpoint", "%s", err.Error())
	case err != nil:
		// CheckTLS's errors never include the material.
		return nil, errorf(http.StatusBadRequest, "invalid_tls", "%s", err.Error())
	}
	noKey := errorf(http.StatusBadRequest, "tls_unavailable",
		"TLS material needs WINDFLOW_SECRET_KEY: this server has no key to encrypt it at rest")
	if s.secrets == nil {
		return nil, noKey
	}
	sealed, err := engine.SealTLS(s.secrets, id.String(), *m)
	if errors.Is(err, secretbox.ErrNoKey) {
		return nil, noKey
	}
	if err != nil {
		return nil, fmt.Errorf("environment %s: %w", id, err)
	}
	return &store.EnvironmentTLS{
		Sealed: sealed, CA: info.CA,
		ClientCert: info.ClientCert, ClientCertSubject: info.ClientCertSubject, ClientCertNotAfter: info.ClientCertNotAfter,
	}, nil
}

// patchTLS returns the TLS material env has after a PATCH that may set or
// remove it (env carries the patched endpoint).
func (s *Server) patchTLS(env store.Environment, o optionalTLS) (*store.EnvironmentTLS, error) {
	t := env.TLS
	if o.set {
		var err error
		if t, err = s.sealTLS(env.ID, env.Endpoint, o.value.material()); err != nil {
			return nil, err
		}
	}
	if t != nil && !strings.HasPrefix(strings.ToLower(env.Endpoint), "tcp://") {
		return nil, errorf(http.StatusBadRequest, "invalid_endpoint",
			`the environment has TLS material, which needs a tcp:// endpoint (send "tls": null to remove it)`)
	}
	return t, nil
}
