package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is a local webhook receiver that records what it gets.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []received
}

// received is one request as the receiver saw it.
type received struct {
	method, path, query, contentType, body string
}

// newReceiver starts a receiver answering status after running block
// (which may wait); it is closed when the test ends.
func newReceiver(t *testing.T, status int, block func(r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.requests = append(rc.requests, received{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), string(body)})
		rc.mu.Unlock()
		if block != nil {
			block(r)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// got returns the requests received so far.
func (rc *receiver) got() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.requests...)
}

// hostPort is the receiver's "127.0.0.1:port".
func (rc *receiver) hostPort() string { return strings.TrimPrefix(rc.URL, "http://") }

const (
	sendTitle   = "prod: web died unexpectedly (exit code 1)"
	sendMessage = "Container web (ID 0123456789ab, image nginx:1.27) in environment prod exited with exit code 1."
)

func TestSenderGenericWebhook(t *testing.T) {
	tests := []struct {
		name      string
		url       func(hostPort string) string
		wantQuery string
		wantCT    string
		check     func(t *testing.T, body string)
	}{
		{"generic json", func(hp string) string {
			return "generic://" + hp + "/hook/" + secret + "?disabletls=yes&template=json"
		}, "", "application/json", func(t *testing.T, body string) {
			var got map[string]string
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if got["title"] != sendTitle || got["message"] != sendMessage {
				t.Errorf("body = %v", got)
			}
		}},
		{"generic plain", func(hp string) string {
			return "generic://" + hp + "/hook/" + secret + "?disabletls=yes&token=abc123"
		}, "token=abc123", "text/plain", func(t *testing.T, body string) {
			if body != sendTitle+"\n\n"+sendMessage {
				t.Errorf("body = %q", body)
			}
		}},
		{"generic+http shortcut", func(hp string) string {
			return "generic+http://" + hp + "/hook/" + secret
		}, "", "text/plain", func(t *testing.T, body string) {
			if body != sendTitle+"\n\n"+sendMessage {
				t.Errorf("body = %q", body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, http.StatusNoContent, nil)
			url := tt.url(rc.hostPort())
			if err := ValidateURL(url); err != nil {
				t.Fatalf("ValidateURL: %v", err)
			}
			if err := (Sender{}).Send(context.Background(), url, sendTitle, sendMessage); err != nil {
				t.Fatalf("Send: %v", err)
			}
			reqs := rc.got()
			if len(reqs) != 1 {
				t.Fatalf("receiver got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.method != http.MethodPost || r.path != "/hook/"+secret || r.query != tt.wantQuery || r.contentType != tt.wantCT {
				t.Errorf("request = %+v", r)
			}
			tt.check(t, r.body)
		})
	}
}

func TestSenderErrorsAreScrubbed(t *testing.T) {
	failing := newReceiver(t, http.StatusInternalServerError, nil)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedHost := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()
	tests := []struct {
		name    string
		url     string
		want    string
		wantErr error
		calls   int
	}{
		{"receiver answers 500", "generic://" + failing.hostPort() + "/hook/" + secret + "?disabletls=yes&template=json&key=" + secret,
			"500", nil, 1},
		{"connection refused", "generic://" + closedHost + "/hook/" + secret + "?disabletls=yes&key=" + secret,
			"connection refused", nil, 0},
		{"invalid URL", "generic://" + failing.hostPort() + "/hook/" + secret + "?disabletls=" + secret,
			"invalid notification URL", ErrInvalidURL, 0},
		{"unknown service", "https://user:" + secret + "@example.com/" + secret, "unknown service", ErrInvalidURL, 0},
	}
	before := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (Sender{Timeout: 5 * time.Second}).Send(context.Background(), tt.url, sendTitle, sendMessage)
			if err == nil {
				t.Fatal("Send = nil, want an error")
			}
			msg := err.Error()
			t.Logf("error: %s", msg)
			if !errors.Is(err, ErrSendFailed) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Errorf("error does not wrap ErrSendFailed / %v", tt.wantErr)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q lacks %q", msg, tt.want)
			}
			if strings.Contains(msg, secret) || strings.Contains(msg, "/hook") || strings.Contains(msg, tt.url) {
				t.Errorf("error %q leaks the URL, its path or its token", msg)
			}
			if n := len(failing.got()) - before; n != tt.calls {
				t.Errorf("receiver got %d requests, want %d", n, tt.calls)
			}
			before = len(failing.got())
		})
	}
}

func TestSenderTimeoutAndCancel(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, http.StatusOK, func(*http.Request) { <-release })
	t.Cleanup(func() { close(release) }) // runs before rc.Close
	url := "generic://" + rc.hostPort() + "/hook/" + secret + "?disabletls=yes"

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	soon, cancelSoon := context.WithCancel(context.Background())
	defer cancelSoon()
	time.AfterFunc(100*time.Millisecond, cancelSoon)
	deadline, cancelDeadline := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancelDeadline()

	tests := []struct {
		name    string
		ctx     context.Context
		timeout time.Duration
		want    error
	}{
		{"Sender timeout", context.Background(), 150 * time.Millisecond, context.DeadlineExceeded},
		{"ctx deadline", deadline, 0, context.DeadlineExceeded},
		{"ctx cancelled while sending", soon, 0, context.Canceled},
		{"ctx cancelled before", cancelled, 0, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := (Sender{Timeout: tt.timeout}).Send(tt.ctx, url, sendTitle, sendMessage)
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrSendFailed) {
				t.Fatalf("Send = %v, want %v", err, tt.want)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("Send took %v", took)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q leaks the token", err)
			}
		})
	}
}
