package engine

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"

	"github.com/moby/moby/client"
)

// AgentEndpoint is the endpoint of an environment whose engine sits behind
// a windflow-agent: the engine is reached through the connection the agent
// opened to an API instance, never dialled directly.
const AgentEndpoint = "agent://"

// IsAgentEndpoint reports whether endpoint is AgentEndpoint.
func IsAgentEndpoint(endpoint string) bool { return endpoint == AgentEndpoint }

// agentHost is the host the client names in its requests; the agent
// forwards them to its own engine whatever the host.
const agentHost = "tcp://windflow-agent.invalid:2375"

// NewAgentClient returns a client whose every connection comes from dial:
// a stream to the engine through its agent. It behaves as a plain tcp://
// client (connections reused within a cycle, closed IdleConnTimeout after
// it); a dial failure is an engine error wrapping ErrUnreachable, like an
// engine that does not answer.
func NewAgentClient(dial func(ctx context.Context) (net.Conn, error)) (*client.Client, error) {
	transport := &http.Transport{
		MaxIdleConns:        IdleConnsPerEngine,
		MaxIdleConnsPerHost: IdleConnsPerEngine,
		IdleConnTimeout:     IdleConnTimeout,
		WriteBufferSize:     connWriteBufferSize,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	cli, err := client.New(
		client.WithHTTPClient(&http.Client{Transport: transport, CheckRedirect: client.CheckRedirect}),
		client.WithHost(agentHost),
		client.WithDialContext(func(ctx context.Context, _, _ string) (net.Conn, error) {
			conn, err := dial(ctx)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
			}
			return conn, nil
		}),
		client.WithScheme("http"),
	)
	if err != nil {
		return nil, fmt.Errorf("engine: agent client: %w", err)
	}
	return cli, nil
}
