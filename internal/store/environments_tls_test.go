package store_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/windflow/monitor/internal/store"
)

func TestEnvironmentTLS(t *testing.T) {
	t.Parallel()
	b := setup(t)
	expiry := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	e := validEnvironment("remote")
	e.Endpoint = "tcp://10.0.0.5:2376"
	e.TLS = &store.EnvironmentTLS{Sealed: []byte{1, 2, 3, 4}, CA: true, ClientCert: true,
		ClientCertSubject: "CN=windflow", ClientCertNotAfter: expiry}
	created, err := b.store.CreateEnvironment(b.ctx, e)
	if err != nil {
		t.Fatalf("CreateEnvironment: %v", err)
	}
	got, err := b.store.GetEnvironment(b.ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.TLS == nil || !bytes.Equal(got.TLS.Sealed, e.TLS.Sealed) || !got.TLS.CA || !got.TLS.ClientCert ||
		got.TLS.ClientCertSubject != "CN=windflow" || !got.TLS.ClientCertNotAfter.Equal(expiry) {
		t.Fatalf("TLS as stored: %+v", got.TLS)
	}

	// An update that starts from the stored row keeps the TLS material.
	got.Settings.MetricsInterval = time.Minute
	kept, err := b.store.UpdateEnvironment(b.ctx, got)
	if err != nil || kept.TLS == nil || !bytes.Equal(kept.TLS.Sealed, e.TLS.Sealed) {
		t.Fatalf("UpdateEnvironment kept %+v, %v", kept.TLS, err)
	}

	// CA only, no client certificate.
	kept.TLS = &store.EnvironmentTLS{Sealed: []byte{9}, CA: true}
	caOnly, err := b.store.UpdateEnvironment(b.ctx, kept)
	if err != nil || caOnly.TLS == nil || caOnly.TLS.ClientCert || caOnly.TLS.ClientCertSubject != "" || !caOnly.TLS.ClientCertNotAfter.IsZero() {
		t.Fatalf("CA-only TLS: %+v, %v", caOnly.TLS, err)
	}

	// TLS only with tcp://, never without sealed material.
	unix := caOnly
	unix.Endpoint = "unix:///var/run/docker.sock"
	if _, err := b.store.UpdateEnvironment(b.ctx, unix); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("TLS with a unix endpoint: %v, want ErrInvalid", err)
	}
	empty := caOnly
	empty.TLS = &store.EnvironmentTLS{CA: true}
	if _, err := b.store.UpdateEnvironment(b.ctx, empty); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("TLS without sealed material: %v, want ErrInvalid", err)
	}

	// Removing it.
	caOnly.TLS = nil
	removed, err := b.store.UpdateEnvironment(b.ctx, caOnly)
	if err != nil || removed.TLS != nil {
		t.Fatalf("remove TLS: %+v, %v", removed.TLS, err)
	}
	var sealed []byte
	var ca bool
	if err := b.store.Pool().QueryRow(b.ctx, `SELECT tls_sealed, tls_ca FROM environments WHERE id = $1`, created.ID).Scan(&sealed, &ca); err != nil {
		t.Fatal(err)
	}
	if sealed != nil || ca {
		t.Fatalf("row after removing TLS: sealed %x, ca %t", sealed, ca)
	}

	// Environments without TLS read back nil.
	plain := b.createEnv(t, "plain")
	if plain.TLS != nil {
		t.Fatalf("plain environment has TLS %+v", plain.TLS)
	}
}
