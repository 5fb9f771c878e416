// Package secretbox encrypts secrets at rest (the TLS client material of
// remote Docker engines) with AES-256-GCM under a key from the environment
// (WINDFLOW_SECRET_KEY).
//
// # Format
//
// A sealed message is
//
//	version (1 byte, 0x01) | key ID (4 bytes) | nonce (12 bytes, random) | ciphertext | GCM tag (16 bytes)
//
// The version and key ID are authenticated too (they are part of the GCM
// additional data, followed by the caller's own additional data, if any),
// so changing any byte makes Open fail.
//
// # Keys and rotation
//
// The key is 32 random bytes, written as 64 hex digits or as base64
// (`openssl rand -base64 32`). Its key ID is the first 4 bytes of a SHA-256
// of the key: it names the key without revealing it. A Box seals with its
// primary key and opens messages sealed with the primary key or with any
// of the previous keys given to New. Rotating is therefore: deploy the new
// key as primary with the old one as previous (today the configuration
// carries only the primary key; a WINDFLOW_SECRET_KEY_PREVIOUS list would be
// the natural addition), re-seal every stored secret (Open then Seal;
// KeyID tells which rows still use an old key), then drop the old key. A
// new format would get a new version byte; Open rejects versions it does
// not know.
package secretbox

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// EnvVar is the environment variable that holds the key.
const EnvVar = "WINDFLOW_SECRET_KEY"

// KeySize is the size of a key in bytes (AES-256).
const KeySize = 32

const (
	version1   byte = 1
	keyIDSize       = 4
	nonceSize       = 12
	tagSize         = 16
	headerSize      = 1 + keyIDSize + nonceSize
	// Overhead is how many bytes Seal adds to the plaintext.
	Overhead = headerSize + tagSize
)

var (
	// ErrNoKey is returned by the methods of a nil *Box: no key is
	// configured, so nothing can be sealed or opened.
	ErrNoKey = errors.New("secretbox: no secret key configured (set " + EnvVar + ")")
	// ErrBadKey is wrapped by the errors about a key that cannot be used.
	ErrBadKey = errors.New("secretbox: bad key")
	// ErrOpen is wrapped by every error of Open: a message that is too
	// short, of an unknown version, sealed with a key this Box does not
	// have, or that fails authentication (tampered, wrong key, wrong
	// additional data).
	ErrOpen = errors.New("secretbox: cannot open")
)

// Box seals and opens messages. A nil *Box has no key: its methods return
// ErrNoKey. A Box is safe for concurrent use.
type Box struct {
	primaryID [keyIDSize]byte
	aeads     map[[keyIDSize]byte]cipher.AEAD
}

// FromString returns a Box for a key written as ParseKey accepts, or nil
// and no error when s is empty (no key configured: the features that need
// one are off, and a nil *Box says so with ErrNoKey).
func FromString(s string) (*Box, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	key, err := ParseKey(s)
	if err != nil {
		return nil, err
	}
	return New(key)
}

// ParseKey decodes a key written as 64 hex digits or as standard or URL
// base64 (padded or not) of 32 bytes; surrounding spaces are ignored. Its
// errors never include the key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrBadKey)
	}
	if len(s) == 2*KeySize {
		if key, err := hex.DecodeString(s); err == nil {
			return key, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(s); err == nil && len(key) == KeySize {
			return key, nil
		}
	}
	return nil, fmt.Errorf("%w: want %d bytes written as %d hex digits or as base64 (e.g. `openssl rand -base64 32`); got %d characters that are neither",
		ErrBadKey, KeySize, 2*KeySize, len(s))
}

// New returns a Box that seals with primary and opens what primary or any
// of previous sealed. Every key must be KeySize bytes and not all zero.
func New(primary []byte, previous ...[]byte) (*Box, error) {
	b := &Box{aeads: make(map[[keyIDSize]byte]cipher.AEAD, 1+len(previous))}
	for i, key := range append([][]byte{primary}, previous...) {
		if len(key) != KeySize {
			return nil, fmt.Errorf("%w: key %d is %d bytes, want %d", ErrBadKey, i, len(key), KeySize)
		}
		if bytes.Count(key, []byte{0}) == KeySize {
			return nil, fmt.Errorf("%w: key %d is all zeros", ErrBadKey, i)
		}
		id := keyID(key)
		if _, dup := b.aeads[id]; dup {
			return nil, fmt.Errorf("%w: key %d is given twice (or two keys share the ID %x)", ErrBadKey, i, id)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
		}
		b.aeads[id] = aead
		if i == 0 {
			b.primaryID = id
		}
	}
	return b, nil
}

// keyID names a key without revealing it.
func keyID(key []byte) [keyIDSize]byte {
	h := sha256.New()
	h.Write([]byte("windflow secretbox key id\x00"))
	h.Write(key)
	var id [keyIDSize]byte
	copy(id[:], h.Sum(nil))
	return id
}

// KeyID returns the hex ID of the primary key (for logs and docs: it does
// not reveal the key).
func (b *Box) KeyID() string {
	if b == nil {
		return ""
	}
	return hex.EncodeToString(b.primaryID[:])
}

// Seal encrypts plaintext with the primary key.
func (b *Box) Seal(plaintext []byte) ([]byte, error) { return b.SealWithAD(plaintext, nil) }

// Open decrypts a message of Seal.
func (b *Box) Open(sealed []byte) ([]byte, error) { return b.OpenWithAD(sealed, nil) }

// SealWithAD encrypts plaintext with the primary key, binding it to ad
// (additional data that is authenticated but not stored, e.g. the ID of the
// row the secret belongs to): OpenWithAD must be given the same ad.
func (b *Box) SealWithAD(plaintext, ad []byte) ([]byte, error) {
	if b == nil {
		return nil, ErrNoKey
	}
	out := make([]byte, headerSize, headerSize+len(plaintext)+tagSize)
	out[0] = version1
	copy(out[1:], b.primaryID[:])
	if _, err := rand.Read(out[1+keyIDSize : headerSize]); err != nil {
		return nil, fmt.Errorf("secretbox: nonce: %w", err)
	}
	nonce := out[1+keyIDSize : headerSize]
	return b.aeads[b.primaryID].Seal(out, nonce, plaintext, additional(out[:1+keyIDSize], ad)), nil
}

// OpenWithAD decrypts a message of SealWithAD sealed with the same ad. Its
// errors wrap ErrOpen (or are ErrNoKey) and never include the message.
func (b *Box) OpenWithAD(sealed, ad []byte) ([]byte, error) {
	if b == nil {
		return nil, ErrNoKey
	}
	id, err := SealedKeyID(sealed)
	if err != nil {
		return nil, err
	}
	var kid [keyIDSize]byte
	copy(kid[:], sealed[1:1+keyIDSize])
	aead, ok := b.aeads[kid]
	if !ok {
		return nil, fmt.Errorf("%w: sealed with key %s, which is not configured (primary key is %s)", ErrOpen, id, b.KeyID())
	}
	plain, err := aead.Open(nil, sealed[1+keyIDSize:headerSize], sealed[headerSize:], additional(sealed[:1+keyIDSize], ad))
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed (tampered data, or sealed for something else)", ErrOpen)
	}
	return plain, nil
}

// SealedKeyID returns the hex ID of the key a message was sealed with, so
// that a rotation can find what still needs re-sealing.
func SealedKeyID(sealed []byte) (string, error) {
	if len(sealed) < Overhead {
		return "", fmt.Errorf("%w: %d bytes is too short to be a sealed message", ErrOpen, len(sealed))
	}
	if sealed[0] != version1 {
		return "", fmt.Errorf("%w: unknown format version %d", ErrOpen, sealed[0])
	}
	return hex.EncodeToString(sealed[1 : 1+keyIDSize]), nil
}

// additional returns the GCM additional data: the header (version and key
// ID), the length of ad and ad.
func additional(header, ad []byte) []byte {
	out := make([]byte, 0, len(header)+8+len(ad))
	out = append(out, header...)
	n := uint64(len(ad))
	for i := 7; i >= 0; i-- {
		out = append(out, byte(n>>(8*i)))
	}
	return append(out, ad...)
}
