package engine

import "github.com/moby/moby/client"

// EventsDialer exposes eventsDialer.
var EventsDialer = eventsDialer

// HasClientTLS tells whether ConnectTLS remembered a TLS configuration for cli.
func HasClientTLS(cli *client.Client) bool { return clientTLS(cli) != nil }

// TLSClientsLen is how many clients' TLS configurations are remembered.
func TLSClientsLen() int {
	clientDials.Lock()
	defer clientDials.Unlock()
	return len(clientDials.m)
}
