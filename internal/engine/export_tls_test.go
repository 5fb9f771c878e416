package engine

import "github.com/moby/moby/client"

// NewClient exposes newClient (a client that has not talked to the engine
// yet) to the TLS tests of package engine_test.
func NewClient(endpoint string, m *TLSMaterial) (*client.Client, error) {
	cli, _, err := newClient(endpoint, m)
	return cli, err
}

// EventsDialer exposes eventsDialer.
var EventsDialer = eventsDialer

// HasClientTLS tells whether ConnectTLS remembered a TLS configuration for cli.
func HasClientTLS(cli *client.Client) bool { return clientTLS(cli) != nil }

// TLSClientsLen is how many clients' TLS configurations are remembered.
func TLSClientsLen() int {
	tlsClients.Lock()
	defer tlsClients.Unlock()
	return len(tlsClients.m)
}
