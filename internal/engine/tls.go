package engine

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrBadTLS is wrapped by every error about TLS material that cannot be
// used. These errors never include the material itself.
var ErrBadTLS = errors.New("bad TLS material")

// TLSMaterial is the TLS client configuration of a tcp:// endpoint, in PEM.
// Every field is optional, but Cert and Key go together:
//   - CA: the certificate(s) of the CA that signed the engine's
//     certificate. It replaces the system roots for this endpoint; empty
//     means the system roots.
//   - Cert, Key: the client certificate (with its chain, if any) and its
//     unencrypted private key (PKCS#1, PKCS#8 or SEC 1), for engines that
//     require client certificates (dockerd --tlsverify).
//
// A TLSMaterial with every field empty still means TLS, verified against
// the system roots, without a client certificate.
//
// It holds a private key: never log it, never put it in workflow inputs,
// results or errors. At rest it is sealed (SealTLS).
type TLSMaterial struct {
	CA   []byte
	Cert []byte
	Key  []byte
}

// TLSInfo describes TLS material without revealing anything secret.
type TLSInfo struct {
	// CA is true when the material carries its own CA certificates.
	CA bool
	// ClientCert is true when it carries a client certificate;
	// ClientCertSubject and ClientCertNotAfter describe that certificate.
	ClientCert         bool
	ClientCertSubject  string
	ClientCertNotAfter time.Time
}

// String never shows the material, so that a TLSMaterial that ends up in a
// log line or %v reveals nothing.
func (m TLSMaterial) String() string {
	return fmt.Sprintf("TLSMaterial{CA:%t Cert:%t Key:%t}", len(m.CA) > 0, len(m.Cert) > 0, len(m.Key) > 0)
}

// GoString is String, for %#v.
func (m TLSMaterial) GoString() string { return m.String() }

// parsedTLS is material checked by parse.
type parsedTLS struct {
	roots *x509.CertPool // nil: system roots
	pair  *tls.Certificate
	info  TLSInfo
}

// CheckTLS checks that m can be used with endpoint: endpoint must be
// tcp:// (ErrBadEndpoint otherwise) and the PEM must parse (ErrBadTLS
// otherwise). It returns what may be shown of m.
func CheckTLS(endpoint string, m TLSMaterial) (TLSInfo, error) {
	ep, err := parseEndpoint(endpoint)
	if err != nil {
		return TLSInfo{}, err
	}
	if ep.scheme != "tcp" {
		return TLSInfo{}, fmt.Errorf("%w: %q: TLS material needs a tcp:// endpoint", ErrBadEndpoint, endpoint)
	}
	p, err := m.parse()
	if err != nil {
		return TLSInfo{}, err
	}
	return p.info, nil
}

// parse checks m and parses it. Its errors wrap ErrBadTLS and name the
// field ("ca", "cert", "key") but never include its content: x509 errors
// are kept only for certificates, which are public.
func (m TLSMaterial) parse() (parsedTLS, error) {
	var p parsedTLS
	hasCert, hasKey := len(bytes.TrimSpace(m.Cert)) > 0, len(bytes.TrimSpace(m.Key)) > 0
	if hasCert != hasKey {
		return p, fmt.Errorf("%w: the client certificate (cert) and its key (key) go together: give both or neither", ErrBadTLS)
	}
	if len(bytes.TrimSpace(m.CA)) > 0 {
		certs, err := parseCertificates("ca", m.CA)
		if err != nil {
			return p, err
		}
		p.roots = x509.NewCertPool()
		for _, c := range certs {
			p.roots.AddCert(c)
		}
		p.info.CA = true
	}
	if hasCert {
		certs, err := parseCertificates("cert", m.Cert)
		if err != nil {
			return p, err
		}
		if err := checkKeyPEM(m.Key); err != nil {
			return p, err
		}
		pair, err := tls.X509KeyPair(m.Cert, m.Key)
		if err != nil {
			// tls's messages are fixed strings, but say it in our words:
			// nothing of the key may reach an answer or a log.
			return p, fmt.Errorf("%w: key: the private key does not belong to the client certificate, or is of an unsupported type (want RSA, ECDSA or Ed25519)", ErrBadTLS)
		}
		p.pair = &pair
		p.info.ClientCert = true
		p.info.ClientCertSubject = certs[0].Subject.String()
		p.info.ClientCertNotAfter = certs[0].NotAfter.UTC()
	}
	return p, nil
}

// parseCertificates parses the CERTIFICATE blocks of a PEM field; any other
// block (a key pasted into the wrong field) is an error. Text around the
// blocks is ignored, like openssl does.
func parseCertificates(field string, data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: %s: holds a PEM block of type %q, want only CERTIFICATE blocks", ErrBadTLS, field, pemTypeName(block.Type))
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: certificate %d is not a valid X.509 certificate: %w", ErrBadTLS, field, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: %s: no PEM certificate found (want PEM blocks of type CERTIFICATE)", ErrBadTLS, field)
	}
	return certs, nil
}

// checkKeyPEM checks that the key field holds one unencrypted private key
// that x509 can parse. Its messages never include the key.
func checkKeyPEM(data []byte) error {
	var key *pem.Block
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" && strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED"):
			return fmt.Errorf("%w: key: encrypted private keys are not supported: give the key unencrypted (it is encrypted at rest by the server)", ErrBadTLS)
		case block.Type == "PRIVATE KEY" || strings.HasSuffix(block.Type, " PRIVATE KEY"):
			if key != nil {
				return fmt.Errorf("%w: key: more than one private key", ErrBadTLS)
			}
			key = block
		case strings.HasSuffix(block.Type, " PARAMETERS"): // EC PARAMETERS before an EC key (openssl ecparam -genkey)
		default:
			return fmt.Errorf("%w: key: holds a PEM block of type %q, want a PRIVATE KEY block", ErrBadTLS, pemTypeName(block.Type))
		}
	}
	if key == nil {
		return fmt.Errorf("%w: key: no PEM private key found (want a PEM block of type PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)", ErrBadTLS)
	}
	if _, err := x509.ParsePKCS8PrivateKey(key.Bytes); err == nil {
		return nil
	}
	if _, err := x509.ParsePKCS1PrivateKey(key.Bytes); err == nil {
		return nil
	}
	if _, err := x509.ParseECPrivateKey(key.Bytes); err == nil {
		return nil
	}
	return fmt.Errorf("%w: key: the %s block does not parse as a PKCS#8, PKCS#1 or SEC 1 private key", ErrBadTLS, pemTypeName(key.Type))
}

// pemTypeName returns a PEM type fit for a message: types are short
// uppercase words; anything else is not shown.
func pemTypeName(t string) string {
	if len(t) > 40 || strings.TrimLeft(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ") != "" {
		return "(unusual type)"
	}
	return t
}

// tlsConfig returns the client TLS configuration for m, verifying the
// engine as serverName (its host name or IP address: Go checks an IP
// against the certificate's IP SANs).
func (m TLSMaterial) tlsConfig(serverName string) (*tls.Config, error) {
	p, err := m.parse()
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: serverName,
		RootCAs:    p.roots,
	}
	if p.pair != nil {
		cfg.Certificates = []tls.Certificate{*p.pair}
	}
	return cfg, nil
}

// Sealer seals secrets at rest; *secretbox.Box implements it (a nil Box
// answers secretbox.ErrNoKey).
type Sealer interface {
	SealWithAD(plaintext, ad []byte) ([]byte, error)
	OpenWithAD(sealed, ad []byte) ([]byte, error)
}

// tlsJSON is the plaintext form of sealed TLS material.
type tlsJSON struct {
	CA   string `json:"ca,omitempty"`
	Cert string `json:"cert,omitempty"`
	Key  string `json:"key,omitempty"`
}

// tlsAD binds sealed material to its environment, so that a sealed value
// copied to another environment's row does not open.
func tlsAD(environmentID string) []byte {
	return []byte("windflow/environment/" + environmentID + "/tls")
}

// SealTLS seals m for the environment environmentID. Only the API (which
// receives the material) and the activities (which open it to connect)
// call SealTLS and OpenTLS; the store keeps only the sealed bytes.
func SealTLS(s Sealer, environmentID string, m TLSMaterial) ([]byte, error) {
	if s == nil {
		return nil, errors.New("engine: seal TLS material: no sealer")
	}
	plain, err := json.Marshal(tlsJSON{CA: string(m.CA), Cert: string(m.Cert), Key: string(m.Key)})
	if err != nil {
		return nil, fmt.Errorf("engine: seal TLS material: %w", err)
	}
	defer clear(plain)
	sealed, err := s.SealWithAD(plain, tlsAD(environmentID))
	if err != nil {
		return nil, fmt.Errorf("engine: seal TLS material: %w", err)
	}
	return sealed, nil
}

// OpenTLS opens material sealed by SealTLS for the same environment. A
// sealer error is returned wrapped; material that opens but does not decode
// wraps ErrBadTLS.
func OpenTLS(s Sealer, environmentID string, sealed []byte) (TLSMaterial, error) {
	if s == nil {
		return TLSMaterial{}, errors.New("engine: open TLS material: no sealer")
	}
	plain, err := s.OpenWithAD(sealed, tlsAD(environmentID))
	if err != nil {
		return TLSMaterial{}, fmt.Errorf("engine: open TLS material: %w", err)
	}
	defer clear(plain)
	var j tlsJSON
	if err := json.Unmarshal(plain, &j); err != nil {
		// json's syntax errors quote at most a character; say nothing anyway.
		return TLSMaterial{}, fmt.Errorf("engine: open TLS material: %w: sealed value is not TLS material", ErrBadTLS)
	}
	return TLSMaterial{CA: []byte(j.CA), Cert: []byte(j.Cert), Key: []byte(j.Key)}, nil
}
