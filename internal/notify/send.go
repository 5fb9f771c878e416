package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nicholas-fedor/shoutrrr/pkg/services/chat/telegram"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/email/smtp"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/specialized/generic"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"

	"github.com/windflow/monitor/internal/netpolicy"
)

// DefaultSendTimeout is Sender's timeout when Sender.Timeout is zero.
const DefaultSendTimeout = 15 * time.Second

// ErrSendFailed is wrapped by every error Sender.Send returns.
var ErrSendFailed = errors.New("notification not sent")

// ErrUnreachable is wrapped by a send error when no answer came from the
// receiver (connection refused, reset, timed out): callers that show errors
// to users may hide which of these it was.
var ErrUnreachable = errors.New("receiver unreachable")

// Sender sends notifications through shoutrrr, one URL at a time.
//
// The title goes where the service shows titles (ntfy's Title header,
// Discord/Slack/Telegram headings, the mail subject, the "title" key of a
// generic webhook's JSON); services without one get it as the first line
// of the body.
//
// A generic webhook on plain HTTP (e.g. a local receiver) is addressed as
//
//	generic://127.0.0.1:8080/hook?disabletls=yes&template=json
//
// which POSTs {"title":"…","message":"…"} (Content-Type application/json)
// to http://127.0.0.1:8080/hook. Without template=json the body is the
// title line, a blank line and the message, as text/plain.
// generic+http://127.0.0.1:8080/hook also works (plain text body; its
// query string is forwarded to the receiver as-is, so it cannot carry
// template=json). generic://host/path without disabletls=yes uses HTTPS.
//
// Every send obeys an outbound policy (Sender.Policy, else
// netpolicy.Default), judged on every address dialed, after DNS
// resolution, redirects included: the service is given a client or dialer
// of the policy (generic webhooks and smtp are sent here in shoutrrr's
// place, as telegram is, bound to the send's context), or, for the services that only use
// http.DefaultClient / http.DefaultTransport, the send goes ahead only
// when the process installed the policy's client there (CheckScheme).
//
// Send returns when the service answers, the timeout passes or ctx ends,
// whichever is first. A generic webhook's request and an smtp session are
// aborted then; the other services take no context, so their request is
// abandoned and ends with their HTTP client's timeout (the policed
// client's is Timeout + 1 s; the process-wide one's is the binary's).
type Sender struct {
	// Timeout bounds one Send; zero means DefaultSendTimeout.
	Timeout time.Duration
	// Policy judges the targets; nil means netpolicy.Default().
	Policy *netpolicy.Policy
}

// Send sends title and message to rawURL. Errors wrap ErrSendFailed (and
// ErrInvalidURL, ErrSchemeRefused, netpolicy.ErrRefused, context.Canceled or
// context.DeadlineExceeded when that is the cause); their text names the
// URL only as RedactURL does and is scrubbed of every part of the URL,
// since shoutrrr's errors may embed it, and bounded in length.
func (s Sender) Send(ctx context.Context, rawURL, title, message string) error {
	where := RedactURL(rawURL)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w to %s: %w", ErrSendFailed, where, err)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultSendTimeout
	}
	policy := s.Policy
	if policy == nil {
		policy = netpolicy.Default()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := CheckScheme(policy, rawURL); err != nil {
		return fmt.Errorf("%w to %s: %w", ErrSendFailed, where, err)
	}
	if err := CheckTarget(ctx, policy, rawURL); err != nil {
		return fmt.Errorf("%w to %s: %w", ErrSendFailed, where, err)
	}

	done := make(chan error, 1) // buffered: an abandoned send still finishes
	go func() {
		// Per send, so that no connection outlives it; its timeout a little
		// after ctx's, so that a service without a context (ntfy…) is cut by
		// ctx first, and its abandoned request ends soon after.
		hc := policy.HTTPClient(timeout + time.Second)
		err := sendNow(ctx, policy, hc, rawURL, title, message)
		hc.CloseIdleConnections()
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			return nil
		}
		if refused, ok := errors.AsType[*netpolicy.RefusedError](err); ok {
			return fmt.Errorf("%w to %s: %w", ErrSendFailed, where, refused)
		}
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("%w to %s: %w", ErrSendFailed, where, cerr)
		}
		if errors.Is(err, ErrInvalidURL) || errors.Is(err, ErrSchemeRefused) {
			return fmt.Errorf("%w to %s: %w", ErrSendFailed, where, err)
		}
		text := netpolicy.RemoteText(ScrubURL(err.Error(), rawURL))
		if strings.Contains(err.Error(), netpolicy.ErrRefused.Error()) {
			return fmt.Errorf("%w to %s: %w", ErrSendFailed, where, refusalText(text))
		}
		if _, ok := errors.AsType[*net.OpError](err); ok {
			return fmt.Errorf("%w to %s: %w: %s", ErrSendFailed, where, ErrUnreachable, text)
		}
		return fmt.Errorf("%w to %s: %s", ErrSendFailed, where, text)
	case <-ctx.Done():
		return fmt.Errorf("%w to %s: %w", ErrSendFailed, where, ctx.Err())
	}
}

// refusalText is a refusal a service passed on only as text (notifiarr
// formats its errors with %v): it still matches netpolicy.ErrRefused.
type refusalText string

func (r refusalText) Error() string { return string(r) }

// Is makes errors.Is(err, netpolicy.ErrRefused) true.
func (r refusalText) Is(target error) bool { return target == netpolicy.ErrRefused }

// CheckTarget judges the server a notification URL names (its host, or
// teams' host parameter) under p, as written and as it resolves now: a
// refused address or metadata host name gives the
// *netpolicy.RefusedError. Services whose server is fixed (telegram,
// slack…; their host position holds a credential) name none: their
// server is judged when it is dialed. The API calls it on create, update
// and test send (refused → 400); every dial judges again.
func CheckTarget(ctx context.Context, p *netpolicy.Policy, rawURL string) error {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil {
		return nil
	}
	host := targetHost(u)
	if host == "" {
		return nil
	}
	return p.CheckResolved(ctx, host)
}

// sendNow locates the service for rawURL and sends through it, turning a
// panic inside shoutrrr into an error: a generic webhook through hc and an
// smtp mail through p's dialer, both bound to ctx; another service through
// hc or its own client policed by p where it accepts one, else through the
// process-wide client (CheckScheme allowed it). Its errors are NOT
// scrubbed, except those wrapping ErrInvalidURL.
func sendNow(ctx context.Context, p *netpolicy.Policy, hc *http.Client, rawURL, title, message string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("service panicked: %v", p)
		}
	}()
	svc, err := locateService(rawURL, false)
	if err != nil {
		return err
	}
	body, params := composeBody(carriesTitle(svc), title, message)
	switch s := svc.(type) {
	case *generic.Service:
		return sendGeneric(ctx, hc, s, body, params)
	case *telegram.Service:
		return sendTelegram(ctx, hc, *s.Config, title, body)
	case *smtp.Service:
		subject := title
		if subject == "" {
			subject = s.Config.Subject
		}
		return sendSMTP(ctx, p, s.Config, subject, message)
	}
	release, err := useHTTPClient(svc, p, hc)
	if err != nil {
		return err
	}
	defer release()
	if c, ok := svc.(interface {
		SendWithContext(ctx context.Context, message string, params *types.Params) error
	}); ok {
		return c.SendWithContext(ctx, body, &params)
	}
	return svc.Send(body, &params)
}
