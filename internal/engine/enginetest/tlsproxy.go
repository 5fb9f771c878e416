package enginetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/windflow/monitor/internal/engine"
)

// PKI is a throw-away certificate authority for TLS tests, made in memory.
type PKI struct {
	// CAPEM is the CA certificate in PEM.
	CAPEM []byte
	cert  *x509.Certificate
	key   *ecdsa.PrivateKey
}

// NewPKI creates a CA (ECDSA P-256, valid for a day) named cn.
func NewPKI(t testing.TB, cn string) *PKI {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"windflow tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &PKI{CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cert: cert, key: key}
}

// Pool returns a pool holding the CA.
func (p *PKI) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.cert)
	return pool
}

// Issue returns a certificate signed by the CA and its private key, both in
// PEM (the key as PKCS#8). With server set it is a server certificate for
// the given IP addresses and DNS names, else a client certificate named cn.
func (p *PKI) Issue(t testing.TB, cn string, server bool, hosts ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// ClientMaterial returns TLS material trusting the CA, with a client
// certificate of the CA named cn.
func (p *PKI) ClientMaterial(t testing.TB, cn string) engine.TLSMaterial {
	t.Helper()
	cert, key := p.Issue(t, cn, false)
	return engine.TLSMaterial{CA: p.CAPEM, Cert: cert, Key: key}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TLSProxy is a TLS endpoint in front of a unix-socket engine, like a
// dockerd started with --tlsverify: it requires a client certificate of its
// CA.
type TLSProxy struct {
	// Endpoint is tcp://127.0.0.1:<port>.
	Endpoint string
	// Material is what a client needs: the CA, and a client certificate
	// and key the proxy accepts.
	Material engine.TLSMaterial
	// PKI is the CA of the proxy's server and client certificates.
	PKI *PKI

	ln       net.Listener
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closed   bool
	rejected map[string]bool // client certificate common names refused
	wg       sync.WaitGroup
}

// StartTLSProxy listens on 127.0.0.1:0 with a fresh CA, a server
// certificate for the IP 127.0.0.1 and tls.RequireAndVerifyClientCert, and
// forwards every connection that completes the handshake to the engine at
// socket (unix:///path, /path, or a plain tcp://host:port engine). It stops, closing every connection, when
// the test ends. It returns the endpoint and the client material.
func StartTLSProxy(t testing.TB, socket string) (string, engine.TLSMaterial) {
	t.Helper()
	p := StartTLSProxyServer(t, socket)
	return p.Endpoint, p.Material
}

// StartTLSProxyServer is StartTLSProxy returning the whole TLSProxy (to
// close its connections, or to issue other certificates of its CA).
func StartTLSProxyServer(t testing.TB, socket string) *TLSProxy {
	t.Helper()
	network, address := "unix", strings.TrimPrefix(socket, "unix://")
	if rest, ok := strings.CutPrefix(socket, "tcp://"); ok {
		network, address = "tcp", strings.TrimSuffix(rest, "/")
	} else if !strings.HasPrefix(address, "/") {
		t.Fatalf("StartTLSProxy: %q is neither a unix socket nor a tcp:// engine", socket)
	}
	pki := NewPKI(t, "windflow test CA")
	certPEM, keyPEM := pki.Issue(t, "windflow test engine", true, "127.0.0.1")
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	p := &TLSProxy{
		Material: pki.ClientMaterial(t, "windflow test client"),
		PKI:      pki,
		conns:    map[net.Conn]struct{}{},
		rejected: map[string]bool{},
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientCAs:    pki.Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) > 0 && p.isRejected(cs.PeerCertificates[0].Subject.CommonName) {
				return errors.New("client certificate revoked by the test")
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	p.ln, p.Endpoint = ln, "tcp://"+ln.Addr().String()
	p.wg.Go(func() { p.serve(network, address) })
	t.Cleanup(p.Close)
	return p
}

// Close stops listening, closes every connection and waits for the
// forwarding goroutines.
func (p *TLSProxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	_ = p.ln.Close()
	p.CloseConnections()
	p.wg.Wait()
}

// RejectClient makes the proxy refuse, from now on, the handshakes of
// client certificates with the given common name (like a revoked
// certificate); connections already open stay open.
func (p *TLSProxy) RejectClient(commonName string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rejected[commonName] = true
}

func (p *TLSProxy) isRejected(commonName string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rejected[commonName]
}

// CloseConnections cuts every open connection (the listener stays open),
// like a network cut or an engine restart seen from the client.
func (p *TLSProxy) CloseConnections() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

func (p *TLSProxy) serve(network, address string) {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Go(func() { p.forward(c.(*tls.Conn), network, address) })
	}
}

func (p *TLSProxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		if p.closed {
			_ = c.Close()
			return
		}
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

// forward completes the handshake (a client without an accepted
// certificate fails here) and copies bytes both ways until both sides are
// done.
func (p *TLSProxy) forward(client *tls.Conn, network, address string) {
	p.track(client, true)
	defer p.track(client, false)
	defer client.Close()
	_ = client.SetDeadline(time.Now().Add(10 * time.Second))
	if err := client.Handshake(); err != nil {
		return
	}
	_ = client.SetDeadline(time.Time{})
	upstream, err := net.Dial(network, address)
	if err != nil {
		return
	}
	p.track(upstream, true)
	defer p.track(upstream, false)
	defer upstream.Close()
	var wg sync.WaitGroup
	wg.Go(func() {
		_, _ = io.Copy(upstream, client)
		if hc, ok := upstream.(interface{ CloseWrite() error }); ok {
			_ = hc.CloseWrite()
		}
	})
	_, err = io.Copy(client, upstream)
	if err == nil || errors.Is(err, net.ErrClosed) {
		_ = client.CloseWrite()
	}
	// The engine is done answering: end the client side too, so that a
	// client that keeps its half open does not hold the goroutine.
	_ = client.Close()
	wg.Wait()
}
