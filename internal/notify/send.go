package notify

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultSendTimeout is Sender's timeout when Sender.Timeout is zero.
const DefaultSendTimeout = 15 * time.Second

// ErrSendFailed is wrapped by every error Sender.Send returns.
var ErrSendFailed = errors.New("notification not sent")

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
// Send returns when the service answers, the timeout passes or ctx ends,
// whichever is first. shoutrrr's services take no context: on timeout or
// cancellation the request is abandoned, not aborted (most services bound
// it with their own HTTP timeout; the generic webhook uses Go's default
// client and waits for the receiver).
type Sender struct {
	// Timeout bounds one Send; zero means DefaultSendTimeout.
	Timeout time.Duration
}

// Send sends title and message to rawURL. Errors wrap ErrSendFailed (and
// ErrInvalidURL, context.Canceled or context.DeadlineExceeded when that is
// the cause); their text names the URL only as RedactURL does and is
// scrubbed of every part of the URL, since shoutrrr's errors may embed it.
func (s Sender) Send(ctx context.Context, rawURL, title, message string) error {
	where := RedactURL(rawURL)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w to %s: %w", ErrSendFailed, where, err)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultSendTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	done := make(chan error, 1) // buffered: an abandoned send still finishes
	go func() { done <- sendNow(rawURL, title, message) }()
	select {
	case err := <-done:
		if err != nil {
			if errors.Is(err, ErrInvalidURL) {
				return fmt.Errorf("%w to %s: %w", ErrSendFailed, where, err)
			}
			return fmt.Errorf("%w to %s: %s", ErrSendFailed, where, scrubSecrets(err.Error(), rawURL))
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w to %s: %w", ErrSendFailed, where, ctx.Err())
	}
}

// sendNow locates the service for rawURL and sends through it, turning a
// panic inside shoutrrr into an error. Its errors are NOT scrubbed, except
// those wrapping ErrInvalidURL.
func sendNow(rawURL, title, message string) (err error) {
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
	return svc.Send(body, &params)
}
