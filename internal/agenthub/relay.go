package agenthub

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// RelayPath is the route of the relay, with the environment's ID as {id}.
const RelayPath = "/agent/v1/relay/{id}"

// relayProtocol is the Upgrade token of a relay request: after the 101
// answer the connection carries one stream to the agent, byte for byte.
const relayProtocol = "windflow-relay"

// ServeRelay gives a worker one stream to the engine of environment {id}
// (envID, parsed by the caller's router), if its agent is connected here.
// The worker authenticates with the relay secret; the agent decides what
// the stream may ask of its engine.
func (h *Hub) ServeRelay(w http.ResponseWriter, r *http.Request, envID uuid.UUID) {
	if !h.relayAuthorized(r) {
		writeError(w, http.StatusUnauthorized, "the relay needs the installation's relay secret")
		return
	}
	if !headerHas(r.Header, "Connection", "upgrade") || !headerHas(r.Header, "Upgrade", relayProtocol) {
		writeError(w, http.StatusBadRequest, "want Connection: Upgrade and Upgrade: "+relayProtocol)
		return
	}
	s, ok := h.local(envID)
	if !ok {
		writeError(w, http.StatusNotFound, "the agent of this environment is not connected to this instance")
		return
	}
	stream, err := s.mux.OpenStream()
	if err != nil {
		writeError(w, http.StatusBadGateway, "the agent's connection is closing")
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		_ = stream.Close()
		writeError(w, http.StatusInternalServerError, "the connection cannot be taken over")
		return
	}
	_ = conn.SetDeadline(time.Time{})
	_, err = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + relayProtocol + "\r\n\r\n")
	if err == nil {
		err = brw.Flush()
	}
	if err != nil {
		_ = stream.Close()
		_ = conn.Close()
		return
	}
	// Bytes the worker sent after its request head are in brw's buffer.
	var fromWorker io.Reader = conn
	if n := brw.Reader.Buffered(); n > 0 {
		fromWorker = io.MultiReader(io.LimitReader(brw.Reader, int64(n)), conn)
	}
	splice(h.ctx, conn, fromWorker, stream)
}

// splice copies both ways between a (read through aReader) and b until
// either side ends or ctx does, then closes both.
func splice(ctx context.Context, a net.Conn, aReader io.Reader, b net.Conn) {
	var once sync.Once
	closeBoth := func() { once.Do(func() { _ = a.Close(); _ = b.Close() }) }
	stop := context.AfterFunc(ctx, closeBoth)
	defer stop()
	done := make(chan struct{})
	go func() {
		copySmall(b, aReader)
		closeBoth()
		close(done)
	}()
	copySmall(a, b)
	closeBoth()
	<-done
}

// relayBufferSize is the copy buffer of each direction of a relay. An
// agent's event stream holds its relay open for good, so the buffer is
// paid per agent: 8 KB instead of io.Copy's 32 KB (the Engine API's
// answers are small; a large one takes a few more reads).
const relayBufferSize = 8 << 10

// copySmall copies src to dst through a relayBufferSize buffer (the
// wrappers keep io.CopyBuffer from using a ReaderFrom or WriterTo with a
// buffer of its own).
func copySmall(dst io.Writer, src io.Reader) {
	_, _ = io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, make([]byte, relayBufferSize))
}

// relayAuthorized checks the request's bearer token against the relay
// secret, in constant time.
func (h *Hub) relayAuthorized(r *http.Request) bool {
	token, ok := bearer(r)
	if !ok {
		return false
	}
	secret, err := h.relaySecret(r.Context())
	if err != nil {
		h.log.Error("agent relay: secret", "err", err)
		return false
	}
	return subtle.ConstantTimeCompare([]byte(token), []byte(hex.EncodeToString(secret))) == 1
}

// relaySecret returns the installation's relay secret, read once.
func (h *Hub) relaySecret(ctx context.Context) ([]byte, error) {
	h.mu.Lock()
	secret := h.secret
	h.mu.Unlock()
	if secret != nil {
		return secret, nil
	}
	secret, err := h.store.RelaySecret(ctx)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.secret = secret
	h.mu.Unlock()
	return secret, nil
}

// headerHas reports whether the comma-separated header name holds token
// (case-insensitively).
func headerHas(hdr http.Header, name, token string) bool {
	for _, v := range hdr.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}
