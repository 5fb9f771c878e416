package store

import (
	"fmt"
	"time"
)

// EnvironmentTLS is the TLS client configuration of a tcp:// environment
// as stored: the material sealed by the caller, and a description of it
// that holds nothing secret.
type EnvironmentTLS struct {
	// Sealed is the CA, client certificate and key, encrypted by the API
	// (engine.SealTLS with internal/secretbox); only the API and the
	// activities open it. The store never sees the material in clear.
	Sealed []byte
	// CA is true when the material carries its own CA certificates.
	CA bool
	// ClientCert is true when it carries a client certificate, described by
	// ClientCertSubject and ClientCertNotAfter.
	ClientCert         bool
	ClientCertSubject  string
	ClientCertNotAfter time.Time
}

// String shows the description only.
func (t EnvironmentTLS) String() string {
	return fmt.Sprintf("EnvironmentTLS{sealed %d bytes, CA:%t ClientCert:%t}", len(t.Sealed), t.CA, t.ClientCert)
}

// tlsColumns are the TLS columns as stored: all NULL/false without TLS.
type tlsColumns struct {
	sealed        []byte
	ca            bool
	clientSubject *string
	clientExpiry  *time.Time
}

// tlsColumnsOf returns the columns to store for t (nil: no TLS).
func tlsColumnsOf(t *EnvironmentTLS) (tlsColumns, error) {
	if t == nil {
		return tlsColumns{}, nil
	}
	if len(t.Sealed) == 0 {
		return tlsColumns{}, fmt.Errorf("%w: TLS configuration without sealed material", ErrInvalid)
	}
	c := tlsColumns{sealed: t.Sealed, ca: t.CA}
	if t.ClientCert {
		subject, expiry := t.ClientCertSubject, t.ClientCertNotAfter
		c.clientSubject, c.clientExpiry = &subject, &expiry
	}
	return c, nil
}

// environmentTLS builds the TLS field of a scanned row.
func (c tlsColumns) environmentTLS() *EnvironmentTLS {
	if c.sealed == nil {
		return nil
	}
	t := &EnvironmentTLS{Sealed: c.sealed, CA: c.ca}
	if c.clientSubject != nil {
		t.ClientCert = true
		t.ClientCertSubject = *c.clientSubject
		if c.clientExpiry != nil {
			t.ClientCertNotAfter = c.clientExpiry.UTC()
		}
	}
	return t
}
