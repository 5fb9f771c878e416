package engine_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/internal/secretbox"
)

// pemBody returns the base64 lines of a PEM block joined, and its lines.
func pemBody(p []byte) (string, []string) {
	var lines []string
	for _, l := range strings.Split(string(p), "\n") {
		if l != "" && !strings.HasPrefix(l, "-----") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, ""), lines
}

// assertNoSecret fails when s shows any piece of key.
func assertNoSecret(t *testing.T, what, s string, key []byte) {
	t.Helper()
	_, lines := pemBody(key)
	for _, l := range lines {
		for i := 0; i+16 <= len(l); i += 16 {
			if strings.Contains(s, l[i:i+16]) {
				t.Fatalf("%s shows key material: %q", what, s)
			}
		}
	}
}

func TestCheckTLS(t *testing.T) {
	pki := enginetest.NewPKI(t, "ca")
	m := pki.ClientMaterial(t, "client-1")
	other := enginetest.NewPKI(t, "other").ClientMaterial(t, "client-2")
	rsaKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("not really DER")})
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00"}, Bytes: []byte("x")})
	const ep = "tcp://127.0.0.1:2376"

	tests := []struct {
		name     string
		endpoint string
		m        engine.TLSMaterial
		wantErr  error
		want     string // part of the error message
	}{
		{name: "full", m: m},
		{name: "CA only", m: engine.TLSMaterial{CA: m.CA}},
		{name: "client cert only (system roots)", m: engine.TLSMaterial{Cert: m.Cert, Key: m.Key}},
		{name: "nothing (TLS with system roots)", m: engine.TLSMaterial{}},
		{name: "CA bundle with text around", m: engine.TLSMaterial{CA: append(append([]byte("Subject: x\n"), m.CA...), other.CA...)}},
		{name: "chain in cert", m: engine.TLSMaterial{CA: m.CA, Cert: append(bytes.Clone(m.Cert), m.CA...), Key: m.Key}},
		{name: "unix endpoint", endpoint: "unix:///var/run/docker.sock", m: m, wantErr: engine.ErrBadEndpoint, want: "tcp://"},
		{name: "bad endpoint", endpoint: "http://x:1", m: m, wantErr: engine.ErrBadEndpoint},
		{name: "cert without key", m: engine.TLSMaterial{CA: m.CA, Cert: m.Cert}, wantErr: engine.ErrBadTLS, want: "together"},
		{name: "key without cert", m: engine.TLSMaterial{CA: m.CA, Key: m.Key}, wantErr: engine.ErrBadTLS, want: "together"},
		{name: "garbage CA", m: engine.TLSMaterial{CA: []byte("hello")}, wantErr: engine.ErrBadTLS, want: "ca: no PEM certificate"},
		{name: "key as CA", m: engine.TLSMaterial{CA: m.Key}, wantErr: engine.ErrBadTLS, want: `ca: holds a PEM block of type "PRIVATE KEY"`},
		{name: "key as cert", m: engine.TLSMaterial{Cert: m.Key, Key: m.Key}, wantErr: engine.ErrBadTLS, want: "cert: holds"},
		{name: "cert as key", m: engine.TLSMaterial{Cert: m.Cert, Key: m.Cert}, wantErr: engine.ErrBadTLS, want: "key: holds a PEM block of type \"CERTIFICATE\""},
		{name: "broken CA DER", m: engine.TLSMaterial{CA: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("nope")})}, wantErr: engine.ErrBadTLS, want: "certificate 1 is not a valid"},
		{name: "garbage key", m: engine.TLSMaterial{Cert: m.Cert, Key: []byte("-----BEGIN PRIVATE KEY-----\nzzzz\n")}, wantErr: engine.ErrBadTLS, want: "key: no PEM private key"},
		{name: "undecodable key", m: engine.TLSMaterial{Cert: m.Cert, Key: rsaKey}, wantErr: engine.ErrBadTLS, want: "does not parse"},
		{name: "encrypted key", m: engine.TLSMaterial{Cert: m.Cert, Key: encrypted}, wantErr: engine.ErrBadTLS, want: "encrypted"},
		{name: "key of another cert", m: engine.TLSMaterial{Cert: m.Cert, Key: other.Key}, wantErr: engine.ErrBadTLS, want: "does not belong"},
		{name: "EC key of another cert", m: engine.TLSMaterial{Cert: m.Cert, Key: ecPEM}, wantErr: engine.ErrBadTLS, want: "does not belong"},
		{name: "two keys", m: engine.TLSMaterial{Cert: m.Cert, Key: append(bytes.Clone(m.Key), other.Key...)}, wantErr: engine.ErrBadTLS, want: "more than one"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			endpoint := tc.endpoint
			if endpoint == "" {
				endpoint = ep
			}
			info, err := engine.CheckTLS(endpoint, tc.m)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("CheckTLS: %v", err)
				}
				if info.CA != (len(tc.m.CA) > 0) || info.ClientCert != (len(tc.m.Cert) > 0) {
					t.Fatalf("info = %+v", info)
				}
				if info.ClientCert && (info.ClientCertSubject != "CN=client-1" || time.Until(info.ClientCertNotAfter) < time.Hour) {
					t.Fatalf("client cert info = %+v", info)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckTLS = %v; want %v with %q", err, tc.wantErr, tc.want)
			}
			for _, key := range [][]byte{m.Key, other.Key, ecPEM} {
				assertNoSecret(t, "error", err.Error(), key)
			}
			if strings.Contains(err.Error(), "BEGIN") {
				t.Fatalf("error shows PEM: %v", err)
			}
		})
	}
}

func TestTLSMaterialString(t *testing.T) {
	m := enginetest.NewPKI(t, "ca").ClientMaterial(t, "c")
	for _, s := range []string{fmt.Sprint(m), fmt.Sprintf("%v %+v %#v %s", m, m, m, m), fmt.Sprint(&m)} {
		if strings.Contains(s, "BEGIN") || strings.Contains(s, "PRIVATE") {
			t.Fatalf("formatted material shows PEM: %s", s)
		}
		assertNoSecret(t, "formatted material", s, m.Key)
	}
}

func TestSealOpenTLS(t *testing.T) {
	m := enginetest.NewPKI(t, "ca").ClientMaterial(t, "c")
	box, err := secretbox.FromString(strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := engine.SealTLS(box, "env-1", m)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := pemBody(m.Key)
	if bytes.Contains(sealed, []byte("BEGIN")) || bytes.Contains(sealed, []byte(body[:20])) {
		t.Fatal("sealed material holds plaintext")
	}
	got, err := engine.OpenTLS(box, "env-1", sealed)
	if err != nil || !bytes.Equal(got.CA, m.CA) || !bytes.Equal(got.Cert, m.Cert) || !bytes.Equal(got.Key, m.Key) {
		t.Fatalf("OpenTLS = %v, %v", got, err)
	}
	// Bound to its environment: another row's ID does not open it.
	if _, err := engine.OpenTLS(box, "env-2", sealed); !errors.Is(err, secretbox.ErrOpen) {
		t.Fatalf("OpenTLS for another environment: %v, want ErrOpen", err)
	}
	var noKey *secretbox.Box
	if _, err := engine.SealTLS(noKey, "env-1", m); !errors.Is(err, secretbox.ErrNoKey) {
		t.Fatalf("SealTLS without a key: %v, want ErrNoKey", err)
	}
	if _, err := engine.OpenTLS(noKey, "env-1", sealed); !errors.Is(err, secretbox.ErrNoKey) {
		t.Fatalf("OpenTLS without a key: %v, want ErrNoKey", err)
	}
	// Something sealed that is not material.
	junk, _ := box.SealWithAD([]byte("not json"), []byte("windflow/environment/env-1/tls"))
	if _, err := engine.OpenTLS(box, "env-1", junk); !errors.Is(err, engine.ErrBadTLS) {
		t.Fatalf("OpenTLS of junk: %v, want ErrBadTLS", err)
	}
}

func TestConnectTLSRejectsUnix(t *testing.T) {
	m := enginetest.NewPKI(t, "ca").ClientMaterial(t, "c")
	if _, err := engine.ConnectTLS(t.Context(), "unix:///var/run/docker.sock", &m); !errors.Is(err, engine.ErrBadEndpoint) {
		t.Fatalf("ConnectTLS(unix) = %v, want ErrBadEndpoint", err)
	}
	bad := engine.TLSMaterial{Cert: m.Cert}
	if _, err := engine.ConnectTLS(t.Context(), "tcp://127.0.0.1:1", &bad); !errors.Is(err, engine.ErrBadTLS) {
		t.Fatalf("ConnectTLS(bad material) = %v, want ErrBadTLS", err)
	}
}

// TestEventsDialerFollowsContext: the raw events dial of a TLS client gives
// up when its context ends, even when the server never answers the
// handshake (the moby client's own Dialer, tls.Dial, would wait forever).
func TestEventsDialerFollowsContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accept, then say nothing
		}
	}()
	m := enginetest.NewPKI(t, "ca").ClientMaterial(t, "c")
	cli, err := engine.NewClient("tcp://"+ln.Addr().String(), &m)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if !engine.HasClientTLS(cli) {
		t.Fatal("the TLS configuration of the client is not remembered")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	conn, err := engine.EventsDialer(cli)(ctx)
	if err == nil {
		conn.Close()
		t.Fatal("dial succeeded against a server that never answers the handshake")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("dial returned after %s, want about the context's 300ms", d)
	}
	plain, err := engine.NewClient("tcp://"+ln.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if engine.HasClientTLS(plain) {
		t.Fatal("a plain client has a TLS configuration")
	}
}

// TestTLSClientsForgotten: the TLS configurations remembered for
// ReadEvents go away with their clients (activities make one per call).
func TestTLSClientsForgotten(t *testing.T) {
	m := enginetest.NewPKI(t, "ca").ClientMaterial(t, "c")
	// Let earlier tests' unreachable clients be forgotten first, so that a
	// collection during the loop below cannot lower the count under us.
	before := engine.TLSClientsLen()
	for i := 0; i < 100; i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
		n := engine.TLSClientsLen()
		if n == before && i >= 5 {
			break
		}
		before = n
	}
	clients := make([]*client.Client, 50)
	for i := range clients {
		cli, err := engine.NewClient("tcp://127.0.0.1:1", &m)
		if err != nil {
			t.Fatal(err)
		}
		_ = cli.Close()
		clients[i] = cli
	}
	if n := engine.TLSClientsLen(); n < before+len(clients) {
		t.Fatalf("%d remembered with 50 live clients, want at least %d", n, before+len(clients))
	}
	runtime.KeepAlive(clients) // the last use: from here on they can go
	deadline := time.Now().Add(10 * time.Second)
	for engine.TLSClientsLen() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d TLS configurations still remembered after their clients were collected (%d before)", engine.TLSClientsLen(), before)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
