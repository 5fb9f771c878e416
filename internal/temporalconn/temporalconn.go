// Package temporalconn builds the Temporal client options of every Windflow
// process from the SDK's environment configuration (envconfig):
// TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*,
// TEMPORAL_GRPC_META_*, and the profiles of TEMPORAL_CONFIG_FILE chosen by
// TEMPORAL_PROFILE. So a self-hosted cluster behind TLS or mTLS and
// Temporal Cloud (mTLS or API key) take the variables Temporal documents,
// not Windflow's own.
package temporalconn

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
)

// Defaults when neither the flags nor the configuration name them.
const (
	DefaultAddress   = "127.0.0.1:7233"
	DefaultNamespace = "default"
)

// Overrides are what a process's flags set; empty fields keep the
// configuration's values.
type Overrides struct {
	Address   string
	Namespace string
}

// Load returns the client options of the configuration that lookup sees
// (envconfig.EnvLookupOS for the process's environment), with the
// overrides applied and the defaults filled in. Logger and metrics are the
// caller's.
func Load(lookup envconfig.EnvLookup, o Overrides) (client.Options, error) {
	opts, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{EnvLookup: lookup})
	if err != nil {
		return client.Options{}, fmt.Errorf("temporal client configuration: %w", err)
	}
	if o.Address != "" {
		opts.HostPort = o.Address
	}
	if o.Namespace != "" {
		opts.Namespace = o.Namespace
	}
	if opts.HostPort == "" {
		opts.HostPort = DefaultAddress
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	return opts, nil
}

// Describe says how opts connect, for logs and errors: the address, the
// namespace and the kind of security, never a key or a certificate.
func Describe(opts client.Options) string {
	var security []string
	switch tlsConf := opts.ConnectionOptions.TLS; {
	case tlsConf == nil:
		security = append(security, "plaintext")
	case len(tlsConf.Certificates) > 0 || tlsConf.GetClientCertificate != nil:
		security = append(security, "mTLS")
	default:
		security = append(security, "TLS")
	}
	if opts.Credentials != nil {
		security = append(security, "API key")
	}
	return fmt.Sprintf("%s (namespace %s, %s)", opts.HostPort, opts.Namespace, strings.Join(security, ", "))
}
