package notify

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/nicholas-fedor/shoutrrr/pkg/router"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/chat/matrix"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"

	"github.com/windflow/monitor/internal/netpolicy"
)

// MaxURLLength is the longest notification URL ValidateURL accepts, in bytes.
const MaxURLLength = 2048

// ErrInvalidURL is wrapped by ValidateURL's errors.
var ErrInvalidURL = errors.New("invalid notification URL")

// ValidateURL checks a notification URL without sending anything: it is
// non-empty, at most MaxURLLength bytes, parses, names a service shoutrrr
// knows and the service accepts its configuration (shoutrrr's router
// locates and initialises it; a matrix URL is only parsed, since matrix
// logs in while initialising). Errors wrap ErrInvalidURL and never contain
// the URL or any part of its userinfo, path or query.
func ValidateURL(raw string) error {
	_, err := locateService(raw, true)
	return err
}

// RedactURL returns "scheme://host/***": the host without userinfo, the
// port kept, everything else hidden ("ntfy://ntfy.sh/***"). The host is
// shown only for services whose host is the server dialed (see services);
// for the others it may hold a credential (notifiarr://apikey,
// pushbullet://token, slack://…@channel) and is hidden too
// ("notifiarr://***/***"), as it is for schemes this package does not
// know. Unparsable input gives "(invalid URL)".
func RedactURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + visibleHost(u) + "/***"
}

// visibleHost is u's host (with port) as RedactURL shows it.
func visibleHost(u *url.URL) string {
	if hostHidden(u) {
		return "***"
	}
	return u.Host
}

// serviceScheme is the shoutrrr service name of u: the scheme before any
// "+" ("generic+https" → "generic"), lower case.
func serviceScheme(u *url.URL) string {
	scheme, _, _ := strings.Cut(u.Scheme, "+")
	return strings.ToLower(scheme)
}

// locateService validates raw and returns its initialised shoutrrr
// service. With validateOnly, services whose initialisation talks to the
// network (matrix) are only parsed and the returned service is nil.
// Errors wrap ErrInvalidURL and are free of the URL's secret parts.
func locateService(raw string, validateOnly bool) (svc types.Service, err error) {
	switch {
	case strings.TrimSpace(raw) == "":
		return nil, fmt.Errorf("%w: empty", ErrInvalidURL)
	case len(raw) > MaxURLLength:
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidURL, MaxURLLength)
	}
	u, perr := url.Parse(raw)
	switch {
	case perr != nil:
		return nil, fmt.Errorf("%w: not a URL", ErrInvalidURL)
	case u.Scheme == "" || u.Opaque != "":
		return nil, fmt.Errorf("%w: expected service://… (e.g. ntfy://ntfy.sh/topic)", ErrInvalidURL)
	}
	scheme := serviceScheme(u)
	r := &router.ServiceRouter{}
	if _, err := r.NewService(scheme); err != nil {
		return nil, fmt.Errorf("%w: unknown service %q", ErrInvalidURL, truncateRunes(cleanText(scheme, 40), 40))
	}
	defer func() {
		if p := recover(); p != nil {
			svc, err = nil, fmt.Errorf("%w: %s configuration rejected", ErrInvalidURL, scheme)
		}
	}()
	if validateOnly && scheme == "matrix" && u.Scheme == scheme {
		if err := (&matrix.Config{}).SetURL(u); err != nil {
			return nil, fmt.Errorf("%w: %s configuration: %s", ErrInvalidURL, scheme, ScrubURL(err.Error(), raw))
		}
		return nil, nil
	}
	svc, err = r.Locate(raw)
	if err != nil {
		detail, cause := initDetail(r, u, err)
		if refused, ok := errors.AsType[*netpolicy.RefusedError](cause); ok {
			return nil, refused // matrix logs in while initialising
		}
		return nil, fmt.Errorf("%w: %s configuration: %s", ErrInvalidURL, scheme, ScrubURL(detail, raw))
	}
	if err := checkGeneric(u, svc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidURL, err)
	}
	return svc, nil
}

// initDetail explains why router.Locate rejected u. The router keeps only
// a sentinel for initialisation errors, so the service is initialised once
// more to get the reason, returned as cause too. The text may contain
// secrets: scrub it.
func initDetail(r *router.ServiceRouter, u *url.URL, locateErr error) (detail string, cause error) {
	switch {
	case errors.Is(locateErr, router.ErrCustomURLsNotSupported):
		return "the " + u.Scheme + " form is not supported", nil
	case errors.Is(locateErr, router.ErrCustomURLConversion):
		return "the " + u.Scheme + " URL could not be converted", nil
	case !errors.Is(locateErr, router.ErrInitializeFailed) || u.Scheme != serviceScheme(u):
		return "rejected", nil
	}
	svc, err := r.NewService(serviceScheme(u))
	if err != nil {
		return "rejected", nil
	}
	if err := svc.Initialize(u, nil); err != nil {
		return err.Error(), err
	}
	return "rejected", nil
}
