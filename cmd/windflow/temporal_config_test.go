package main

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/contrib/envconfig"
)

// lookup is an envconfig.EnvLookup over a map, with no config file.
type lookup map[string]string

func (l lookup) Environ() []string {
	var out []string
	for k, v := range l {
		out = append(out, k+"="+v)
	}
	return out
}

func (l lookup) LookupEnv(k string) (string, bool) { v, ok := l[k]; return v, ok }

var _ envconfig.EnvLookup = lookup{}

func TestConfig_TemporalFromEnvironmentConfigurationFlagsWin(t *testing.T) {
	noFile := filepath.Join(t.TempDir(), "absent.toml")
	c := loadWith(t)
	if err := c.loadTemporal(lookup{"TEMPORAL_CONFIG_FILE": noFile}); err != nil {
		t.Fatal(err)
	}
	if c.TemporalAddress != "127.0.0.1:7233" || c.TemporalNamespace != "default" || c.temporal.ConnectionOptions.TLS != nil {
		t.Errorf("defaults: %s %s TLS %v", c.TemporalAddress, c.TemporalNamespace, c.temporal.ConnectionOptions.TLS)
	}

	c = loadWith(t)
	env := lookup{"TEMPORAL_CONFIG_FILE": noFile, "TEMPORAL_ADDRESS": "ns.acct.tmprl.cloud:7233", "TEMPORAL_NAMESPACE": "ns.acct", "TEMPORAL_API_KEY": "k"}
	if err := c.loadTemporal(env); err != nil {
		t.Fatal(err)
	}
	if c.TemporalAddress != "ns.acct.tmprl.cloud:7233" || c.TemporalNamespace != "ns.acct" || c.temporal.Credentials == nil || c.temporal.ConnectionOptions.TLS == nil {
		t.Errorf("API key configuration: %s %s credentials %v TLS %v", c.TemporalAddress, c.TemporalNamespace, c.temporal.Credentials, c.temporal.ConnectionOptions.TLS)
	}

	c = loadWith(t, "-temporal-address", "flag:7233", "-temporal-namespace", "flagged")
	if err := c.loadTemporal(env); err != nil {
		t.Fatal(err)
	}
	if c.TemporalAddress != "flag:7233" || c.TemporalNamespace != "flagged" {
		t.Errorf("flags: %s %s, want them over the environment", c.TemporalAddress, c.TemporalNamespace)
	}

	c = loadWith(t)
	if err := c.loadTemporal(lookup{"TEMPORAL_CONFIG_FILE": noFile, "TEMPORAL_PROFILE": "missing"}); err == nil {
		t.Error("an unknown profile was accepted")
	}
}
