package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	port := addr[strings.LastIndex(addr, ":"):]

	for _, tc := range []struct {
		name   string
		addr   string
		status int
		ok     bool
	}{
		{"healthy", addr, http.StatusOK, true},
		{"listening on all interfaces", "0.0.0.0" + port, http.StatusOK, true},
		{"unhealthy", addr, http.StatusServiceUnavailable, false},
		{"nobody listening", "127.0.0.1:1", http.StatusOK, false},
		{"bad address", "nonsense", http.StatusOK, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status = tc.status
			err := runHealthcheck(context.Background(), config{HTTPAddr: tc.addr})
			if (err == nil) != tc.ok {
				t.Fatalf("runHealthcheck(%q) = %v, want ok=%v", tc.addr, err, tc.ok)
			}
		})
	}
}
