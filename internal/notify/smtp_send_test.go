package notify

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/windflow/monitor/internal/netpolicy/netpolicytest"
)

// fakeSMTP is a minimal SMTP server on loopback that keeps the DATA of
// every mail it receives.
type fakeSMTP struct {
	net.Listener
	mu    sync.Mutex
	mails []string
}

func newFakeSMTP(t *testing.T) *fakeSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeSMTP{Listener: ln}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { s.serve(c) })
		}
	})
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	return s
}

func (s *fakeSMTP) serve(c net.Conn) {
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	say := func(line string) { _, _ = c.Write([]byte(line + "\r\n")) }
	say("220 fake ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 fake")
		case strings.HasPrefix(cmd, "DATA"):
			say("354 go on")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil || l == ".\r\n" {
					break
				}
				data.WriteString(l)
			}
			s.mu.Lock()
			s.mails = append(s.mails, data.String())
			s.mu.Unlock()
			say("250 queued")
		case strings.HasPrefix(cmd, "QUIT"):
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

// TestSendSMTP: a mail goes out through the policed dialer with the title
// as its subject, to every recipient.
func TestSendSMTP(t *testing.T) {
	srv := newFakeSMTP(t)
	raw := "smtp://" + srv.Addr().String() + "/?fromaddress=alerts@example.com&fromname=Windflow&toaddresses=a@example.com,b@example.com&encryption=None"
	if err := (Sender{Timeout: 5 * time.Second, Policy: mustPolicy(t, "loopback")}).Send(t.Context(), raw, "prod: web is unhealthy ✗", "line 1\nline 2"); err != nil {
		t.Fatalf("send: %v", err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.mails) != 2 {
		t.Fatalf("%d mails, want 2", len(srv.mails))
	}
	m := srv.mails[0]
	for _, want := range []string{"Subject: =?utf-8?q?prod:_web_is_unhealthy_=E2=9C=97?=", "To: a@example.com", "From: Windflow <alerts@example.com>", "line 1\r\nline 2"} {
		if !strings.Contains(m, want) {
			t.Errorf("mail lacks %q:\n%s", want, m)
		}
	}
	err := (Sender{Timeout: 5 * time.Second, Policy: mustPolicy(t, "")}).Send(t.Context(), raw, "t", "m")
	if !errors.Is(err, ErrSendFailed) || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("send under a policy without loopback: %v, want refused", err)
	}
}

// TestSendSMTPSilentServer: a server that accepts and never answers holds
// a send only until its timeout, and leaves no goroutine of it behind.
func TestSendSMTPSilentServer(t *testing.T) {
	hostPort := netpolicytest.SilentPeer(t)
	start := time.Now()
	err := Sender{Timeout: 300 * time.Millisecond, Policy: mustPolicy(t, "loopback")}.Send(context.Background(),
		"smtp://"+hostPort+"/?fromaddress=a@example.com&toaddresses=b@example.com&encryption=None", "t", "m")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send to a silent server: %v, want the deadline", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("send took %s", took)
	}
	waitNoGoroutine(t, "a silent smtp server", "notify.sendSMTP", "net/smtp")
}
