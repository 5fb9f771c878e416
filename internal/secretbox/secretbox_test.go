package secretbox_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/windflow/monitor/internal/secretbox"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, secretbox.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func newBox(t *testing.T, key []byte, previous ...[]byte) *secretbox.Box {
	t.Helper()
	b, err := secretbox.New(key, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	b := newBox(t, newKey(t))
	for _, msg := range [][]byte{nil, {}, []byte("x"), []byte(strings.Repeat("-----BEGIN PRIVATE KEY-----", 1000))} {
		sealed, err := b.Seal(msg)
		if err != nil {
			t.Fatal(err)
		}
		if len(sealed) != len(msg)+secretbox.Overhead {
			t.Errorf("sealed %d bytes into %d, want +%d", len(msg), len(sealed), secretbox.Overhead)
		}
		if len(msg) >= 8 && bytes.Contains(sealed, msg[:8]) {
			t.Errorf("sealed message contains the plaintext")
		}
		got, err := b.Open(sealed)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("Open = %q, %v; want %q", got, err, msg)
		}
	}
	// A random nonce: the same plaintext seals differently every time.
	s1, _ := b.Seal([]byte("same"))
	s2, _ := b.Seal([]byte("same"))
	if bytes.Equal(s1, s2) {
		t.Error("two seals of the same plaintext are equal")
	}
	if s1[0] != 1 {
		t.Errorf("version byte = %d, want 1", s1[0])
	}
	if id, err := secretbox.SealedKeyID(s1); err != nil || id != b.KeyID() || len(id) != 8 {
		t.Errorf("SealedKeyID = %q, %v; want %q", id, err, b.KeyID())
	}
}

func TestAdditionalData(t *testing.T) {
	b := newBox(t, newKey(t))
	sealed, err := b.SealWithAD([]byte("secret"), []byte("environment/1"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.OpenWithAD(sealed, []byte("environment/1")); err != nil || string(got) != "secret" {
		t.Fatalf("OpenWithAD = %q, %v", got, err)
	}
	for _, ad := range [][]byte{nil, []byte("environment/2"), []byte("environment/1 ")} {
		if _, err := b.OpenWithAD(sealed, ad); !errors.Is(err, secretbox.ErrOpen) {
			t.Errorf("OpenWithAD with ad %q: err = %v, want ErrOpen", ad, err)
		}
	}
}

func TestTamperDetection(t *testing.T) {
	b := newBox(t, newKey(t))
	sealed, err := b.Seal([]byte("the private key"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range sealed {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(sealed)
			bad[i] ^= bit
			if got, err := b.Open(bad); !errors.Is(err, secretbox.ErrOpen) {
				t.Fatalf("byte %d ^ %#x: Open = %q, %v; want ErrOpen", i, bit, got, err)
			}
		}
	}
	for n := range sealed {
		if _, err := b.Open(sealed[:n]); !errors.Is(err, secretbox.ErrOpen) {
			t.Fatalf("truncated to %d bytes: err = %v, want ErrOpen", n, err)
		}
	}
	if _, err := b.Open(append(bytes.Clone(sealed), 0)); !errors.Is(err, secretbox.ErrOpen) {
		t.Fatalf("extended: err = %v, want ErrOpen", err)
	}
}

func TestWrongKey(t *testing.T) {
	a, other := newBox(t, newKey(t)), newBox(t, newKey(t))
	sealed, err := a.Seal([]byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.Open(sealed)
	if !errors.Is(err, secretbox.ErrOpen) || !strings.Contains(err.Error(), a.KeyID()) {
		t.Fatalf("Open with another key: %v; want ErrOpen naming key %s", err, a.KeyID())
	}
	// A key with the same ID byte pattern but different bytes still fails:
	// forge the key ID of other into a message of a.
	forged := bytes.Clone(sealed)
	id, _ := hex.DecodeString(other.KeyID())
	copy(forged[1:5], id)
	if _, err := other.Open(forged); !errors.Is(err, secretbox.ErrOpen) {
		t.Fatalf("Open of a forged key ID: %v; want ErrOpen", err)
	}
}

func TestRotation(t *testing.T) {
	oldKey, newKeyBytes := newKey(t), newKey(t)
	old := newBox(t, oldKey)
	sealedOld, _ := old.Seal([]byte("sealed with the old key"))

	rotated := newBox(t, newKeyBytes, oldKey)
	if got, err := rotated.Open(sealedOld); err != nil || string(got) != "sealed with the old key" {
		t.Fatalf("rotated box opens old message: %q, %v", got, err)
	}
	resealed, err := rotated.Seal([]byte("sealed with the old key"))
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := secretbox.SealedKeyID(resealed); id != rotated.KeyID() || id == old.KeyID() {
		t.Fatalf("re-sealed with key %s, want the new primary %s", id, rotated.KeyID())
	}
	if _, err := old.Open(resealed); !errors.Is(err, secretbox.ErrOpen) {
		t.Fatalf("old box opens a message of the new key: %v", err)
	}
	if _, err := secretbox.New(newKeyBytes, newKeyBytes); !errors.Is(err, secretbox.ErrBadKey) {
		t.Fatalf("same key twice: %v, want ErrBadKey", err)
	}
}

func TestNilBox(t *testing.T) {
	var b *secretbox.Box
	if _, err := b.Seal([]byte("x")); !errors.Is(err, secretbox.ErrNoKey) {
		t.Errorf("Seal on nil box: %v", err)
	}
	if _, err := b.Open([]byte("x")); !errors.Is(err, secretbox.ErrNoKey) {
		t.Errorf("Open on nil box: %v", err)
	}
	if !strings.Contains(secretbox.ErrNoKey.Error(), "WINDFLOW_SECRET_KEY") {
		t.Errorf("ErrNoKey does not name the variable: %v", secretbox.ErrNoKey)
	}
	if b, err := secretbox.FromString("  "); b != nil || err != nil {
		t.Errorf("FromString(blank) = %v, %v; want nil, nil", b, err)
	}
}

func TestParseKey(t *testing.T) {
	key := newKey(t)
	good := map[string]string{
		"hex":              hex.EncodeToString(key),
		"HEX":              strings.ToUpper(hex.EncodeToString(key)),
		"base64":           base64.StdEncoding.EncodeToString(key),
		"base64 raw":       base64.RawStdEncoding.EncodeToString(key),
		"base64 url":       base64.URLEncoding.EncodeToString(key),
		"base64 url raw":   base64.RawURLEncoding.EncodeToString(key),
		"trailing newline": base64.StdEncoding.EncodeToString(key) + "\n",
	}
	for name, s := range good {
		t.Run(name, func(t *testing.T) {
			got, err := secretbox.ParseKey(s)
			if err != nil || !bytes.Equal(got, key) {
				t.Fatalf("ParseKey = %x, %v", got, err)
			}
			if b, err := secretbox.FromString(s); err != nil || b == nil {
				t.Fatalf("FromString = %v, %v", b, err)
			}
		})
	}
	secret := "correct-horse-battery-staple-not-a-key"
	bad := map[string]string{
		"empty":           "",
		"passphrase":      secret,
		"short hex":       hex.EncodeToString(key[:16]),
		"long hex":        hex.EncodeToString(append(bytes.Clone(key), 1)),
		"hex with a typo": "zz" + hex.EncodeToString(key)[2:],
		"short base64":    base64.StdEncoding.EncodeToString(key[:31]),
		"long base64":     base64.StdEncoding.EncodeToString(append(bytes.Clone(key), key...)),
		"base64 garbage":  "!!!" + base64.StdEncoding.EncodeToString(key)[3:],
	}
	for name, s := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := secretbox.ParseKey(s)
			if !errors.Is(err, secretbox.ErrBadKey) {
				t.Fatalf("ParseKey = %v, want ErrBadKey", err)
			}
			if len(s) > 4 && strings.Contains(err.Error(), s[:len(s)-2]) {
				t.Fatalf("error %q echoes the key", err)
			}
			if _, err := secretbox.FromString(s); s != "" && !errors.Is(err, secretbox.ErrBadKey) {
				t.Fatalf("FromString = %v, want ErrBadKey", err)
			}
		})
	}
	for name, k := range map[string][]byte{"short": key[:16], "long": append(bytes.Clone(key), 0), "zeros": make([]byte, 32), "nil": nil} {
		if _, err := secretbox.New(k); !errors.Is(err, secretbox.ErrBadKey) {
			t.Errorf("New(%s key) = %v, want ErrBadKey", name, err)
		}
	}
}
