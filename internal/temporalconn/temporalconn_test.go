package temporalconn_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/internal/temporalconn"
	"github.com/windflow/monitor/internal/temporaltest"
)

// env is an envconfig.EnvLookup over a map (no config file unless
// TEMPORAL_CONFIG_FILE names one).
type env map[string]string

func (e env) Environ() []string {
	out := make([]string, 0, len(e))
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}

func (e env) LookupEnv(k string) (string, bool) { v, ok := e[k]; return v, ok }

// noFile keeps the user's own config file out of the test.
func noFile(t *testing.T, e env) env {
	if _, ok := e["TEMPORAL_CONFIG_FILE"]; !ok {
		e["TEMPORAL_CONFIG_FILE"] = filepath.Join(t.TempDir(), "absent.toml")
	}
	return e
}

// load loads e's configuration without a config file, failing the test on
// an error.
func load(t *testing.T, e env) client.Options {
	t.Helper()
	opts, err := temporalconn.Load(noFile(t, e), temporalconn.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

func TestLoad_DefaultsEnvironmentAndOverrides(t *testing.T) {
	opts, err := temporalconn.Load(noFile(t, env{}), temporalconn.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if opts.HostPort != temporalconn.DefaultAddress || opts.Namespace != temporalconn.DefaultNamespace || opts.ConnectionOptions.TLS != nil {
		t.Errorf("defaults: %s %s TLS %v", opts.HostPort, opts.Namespace, opts.ConnectionOptions.TLS)
	}
	opts, err = temporalconn.Load(noFile(t, env{"TEMPORAL_ADDRESS": "temporal.example:7233", "TEMPORAL_NAMESPACE": "prod"}), temporalconn.Overrides{})
	if err != nil || opts.HostPort != "temporal.example:7233" || opts.Namespace != "prod" {
		t.Errorf("environment: %s %s (%v)", opts.HostPort, opts.Namespace, err)
	}
	opts, err = temporalconn.Load(noFile(t, env{"TEMPORAL_ADDRESS": "temporal.example:7233"}), temporalconn.Overrides{Address: "flag:7233", Namespace: "flagged"})
	if err != nil || opts.HostPort != "flag:7233" || opts.Namespace != "flagged" {
		t.Errorf("overrides: %s %s (%v)", opts.HostPort, opts.Namespace, err)
	}
}

func TestLoad_ProfileFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "temporal.toml")
	toml := `[profile.cloud]
address = "my-ns.a1b2c.tmprl.cloud:7233"
namespace = "my-ns.a1b2c"
api_key = "secret-key-for-test"
`
	if err := os.WriteFile(file, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := temporalconn.Load(env{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "cloud"}, temporalconn.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if opts.HostPort != "my-ns.a1b2c.tmprl.cloud:7233" || opts.Namespace != "my-ns.a1b2c" {
		t.Errorf("profile: %s %s", opts.HostPort, opts.Namespace)
	}
	if opts.Credentials == nil || opts.ConnectionOptions.TLS == nil {
		t.Errorf("an API key profile must use TLS and credentials: TLS %v, credentials %v", opts.ConnectionOptions.TLS, opts.Credentials)
	}
	desc := temporalconn.Describe(opts)
	if strings.Contains(desc, "secret-key-for-test") || !strings.Contains(desc, "API key") || !strings.Contains(desc, "TLS") {
		t.Errorf("Describe = %q: want the kind of security and never the key", desc)
	}
}

func TestLoad_BadConfigurationIsAnError(t *testing.T) {
	for name, e := range map[string]env{
		"unknown profile":      {"TEMPORAL_PROFILE": "nope"},
		"certificate, no key":  {"TEMPORAL_TLS_CLIENT_CERT_DATA": "x"},
		"unreadable CA file":   {"TEMPORAL_TLS_SERVER_CA_CERT_PATH": "/nonexistent/ca.pem"},
		"CA that is not a PEM": {"TEMPORAL_TLS_SERVER_CA_CERT_DATA": "not a certificate"},
	} {
		if _, err := temporalconn.Load(noFile(t, e), temporalconn.Overrides{}); err == nil {
			t.Errorf("%s: loaded without error", name)
		}
	}
}

// startTLSProxy terminates TLS (ALPN h2, as gRPC requires) in front of
// the plaintext Temporal server at target; with mutual set it refuses
// clients without a certificate of pki.
func startTLSProxy(t *testing.T, pki *enginetest.PKI, target string, mutual bool) string {
	t.Helper()
	certPEM, keyPEM := pki.Issue(t, "temporal test frontend", true, "temporal.test", "127.0.0.1")
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{pair}, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12}
	if mutual {
		conf.ClientCAs, conf.ClientAuth = pki.Pool(), tls.RequireAndVerifyClientCert
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				if err := c.(*tls.Conn).Handshake(); err != nil {
					return
				}
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
				go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
				<-done
			})
		}
	})
	return ln.Addr().String()
}

// dial connects with opts and asks the namespace: the whole path works.
func dial(t *testing.T, opts client.Options) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts.ConnectionOptions.GetSystemInfoTimeout = 5 * time.Second
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: opts.Namespace})
	return err
}

func TestDial_TLSAndMutualTLSThroughAProxy(t *testing.T) {
	target := temporaltest.Address(t)
	pki := enginetest.NewPKI(t, "temporal test CA")
	clientCert, clientKey := pki.Issue(t, "windflow worker", false)

	tlsOnly := startTLSProxy(t, pki, target, false)
	opts := load(t, env{
		"TEMPORAL_ADDRESS":                 tlsOnly,
		"TEMPORAL_TLS_SERVER_CA_CERT_DATA": string(pki.CAPEM),
		"TEMPORAL_TLS_SERVER_NAME":         "temporal.test",
	})
	if err := dial(t, opts); err != nil {
		t.Fatalf("TLS with the CA and server name: %v", err)
	}
	if d := temporalconn.Describe(opts); !strings.Contains(d, "TLS") || strings.Contains(d, "mTLS") {
		t.Errorf("Describe = %q, want TLS", d)
	}
	for refused, e := range map[string]env{
		"a plaintext client":                  {"TEMPORAL_ADDRESS": tlsOnly},
		"a client that does not trust the CA": {"TEMPORAL_ADDRESS": tlsOnly, "TEMPORAL_TLS": "true"},
	} {
		if err := dial(t, load(t, e)); err == nil {
			t.Errorf("%s got through the TLS frontend", refused)
		}
	}

	mutual := startTLSProxy(t, pki, target, true)
	withCert := env{
		"TEMPORAL_ADDRESS":                 mutual,
		"TEMPORAL_TLS_SERVER_CA_CERT_DATA": string(pki.CAPEM),
		"TEMPORAL_TLS_SERVER_NAME":         "temporal.test",
		"TEMPORAL_TLS_CLIENT_CERT_DATA":    string(clientCert),
		"TEMPORAL_TLS_CLIENT_KEY_DATA":     string(clientKey),
	}
	opts = load(t, withCert)
	if err := dial(t, opts); err != nil {
		t.Fatalf("mTLS with a client certificate: %v", err)
	}
	if d := temporalconn.Describe(opts); !strings.Contains(d, "mTLS") || strings.Contains(d, "PRIVATE") {
		t.Errorf("Describe = %q, want mTLS and no key", d)
	}
	delete(withCert, "TEMPORAL_TLS_CLIENT_CERT_DATA")
	delete(withCert, "TEMPORAL_TLS_CLIENT_KEY_DATA")
	if err := dial(t, load(t, withCert)); err == nil {
		t.Error("a client without a certificate got through the mTLS frontend")
	}
}

// systemInfoServer answers GetSystemInfo (the SDK's first call) and
// records the authorization header it received.
type systemInfoServer struct {
	workflowservice.UnimplementedWorkflowServiceServer
	mu            sync.Mutex
	authorization []string
}

func (s *systemInfoServer) GetSystemInfo(ctx context.Context, _ *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	s.authorization = append(s.authorization, md.Get("authorization")...)
	s.mu.Unlock()
	return &workflowservice.GetSystemInfoResponse{}, nil
}

func TestDial_APIKeyIsSent(t *testing.T) {
	pki := enginetest.NewPKI(t, "temporal test CA")
	certPEM, keyPEM := pki.Issue(t, "temporal cloud stand-in", true, "temporal.test")
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})))
	fake := &systemInfoServer{}
	workflowservice.RegisterWorkflowServiceServer(srv, fake)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)

	opts := load(t, env{
		"TEMPORAL_ADDRESS":                 ln.Addr().String(),
		"TEMPORAL_NAMESPACE":               "my-ns.a1b2c",
		"TEMPORAL_API_KEY":                 "test-api-key-123",
		"TEMPORAL_TLS_SERVER_CA_CERT_DATA": string(pki.CAPEM),
		"TEMPORAL_TLS_SERVER_NAME":         "temporal.test",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.Close()
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.authorization) == 0 || fake.authorization[0] != "Bearer test-api-key-123" {
		t.Fatalf("authorization headers %q, want the API key as a bearer token", fake.authorization)
	}
}
