package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/netpolicy"
	"github.com/windflow/monitor/internal/notify"
	"github.com/windflow/monitor/internal/store"
)

// NotificationStore is what the notification-channel, notification history
// and disk routes need from Postgres.
type NotificationStore interface {
	CreateChannel(ctx context.Context, c store.Channel) (store.Channel, error)
	GetChannel(ctx context.Context, id uuid.UUID) (store.Channel, error)
	ListChannels(ctx context.Context) ([]store.Channel, error)
	UpdateChannel(ctx context.Context, c store.Channel) (store.Channel, error)
	DeleteChannel(ctx context.Context, id uuid.UUID) error
	ListNotificationsPage(ctx context.Context, q store.NotificationQuery) ([]store.Notification, int64, error)
	AttemptsOf(ctx context.Context, notificationIDs []int64) (map[int64][]store.Attempt, error)
	DiskSeries(ctx context.Context, envID uuid.UUID, from, to time.Time, step time.Duration) ([]store.DiskPoint, error)
}

// Test notification of POST /notification-channels/{id}/test.
const (
	testNotificationTitle = "Windflow test notification"
	testSendTimeout       = 20 * time.Second
)

// channelRoutes serves /api/v1/notification-channels.
func (s *Server) channelRoutes() chi.Router {
	r := chi.NewRouter()
	r.Post("/", handle(s.createChannel))
	r.Get("/", handle(s.listChannels))
	r.Route("/{id}", func(r chi.Router) {
		r = r.With(itemCtx("channel", s.store.GetChannel))
		r.Get("/", getItem(channelView))
		r.Patch("/", handle(s.patchChannel))
		r.Delete("/", deleteItem(func(c store.Channel) uuid.UUID { return c.ID }, s.store.DeleteChannel))
		r.Get("/subscription", getItem(subscriptionView))
		r.Put("/subscription", handle(s.putSubscription))
		r.Post("/test", handle(s.testChannel))
	})
	return r
}

// channelJSON is a channel in answers. The URL is a secret: only its
// redacted form (scheme and host) is ever returned.
type channelJSON struct {
	ID          uuid.UUID `json:"id"`
	Name        string    `json:"name"`
	URLRedacted string    `json:"urlRedacted"`
	Enabled     bool      `json:"enabled"`
	// Environments is the subscription's environment list; empty means all.
	Environments []uuid.UUID `json:"environments"`
	// Kinds is the subscription's kind list; empty means the defaults.
	Kinds []string `json:"kinds"`
	// EffectiveKinds are the kinds the channel receives.
	EffectiveKinds []string  `json:"effectiveKinds"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

func channelView(c store.Channel) channelJSON {
	sub := subscriptionView(c)
	return channelJSON{
		ID: c.ID, Name: c.Name, URLRedacted: notify.RedactURL(c.URL), Enabled: c.Enabled,
		Environments: sub.Environments, Kinds: sub.Kinds, EffectiveKinds: sub.EffectiveKinds,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
}

// subscriptionJSON is a channel's subscription in answers.
type subscriptionJSON struct {
	Environments   []uuid.UUID `json:"environments"`
	Kinds          []string    `json:"kinds"`
	EffectiveKinds []string    `json:"effectiveKinds"`
}

func subscriptionView(c store.Channel) subscriptionJSON {
	sub := subscriptionJSON{Environments: c.Environments, Kinds: c.Kinds}
	if sub.Environments == nil {
		sub.Environments = []uuid.UUID{}
	}
	if sub.Kinds == nil {
		sub.Kinds = []string{}
	}
	sub.EffectiveKinds = sub.Kinds
	if len(sub.Kinds) == 0 {
		sub.EffectiveKinds = slices.Clone(notify.DefaultKinds)
	}
	return sub
}

// channelRequest is the body of POST (name and url required) and PATCH
// (every field optional). Environments and Kinds are read as strings so
// that a bad value gets its own error, not "malformed JSON".
type channelRequest struct {
	Name         *string   `json:"name"`
	URL          *string   `json:"url"`
	Enabled      *bool     `json:"enabled"`
	Environments *[]string `json:"environments"`
	Kinds        *[]string `json:"kinds"`
}

// subscriptionRequest is the body of PUT …/subscription; a missing list is
// an empty one (all environments, the default kinds).
type subscriptionRequest struct {
	Environments []string `json:"environments"`
	Kinds        []string `json:"kinds"`
}

// maxChannelName bounds channel names, in characters.
const maxChannelName = 100

func validateChannelName(name string) error {
	n := utf8.RuneCountInString(name)
	if !utf8.ValidString(name) || strings.TrimSpace(name) == "" || n > maxChannelName ||
		strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return errorf(http.StatusBadRequest, "invalid_name",
			"name must be 1-%d printable characters, not only spaces", maxChannelName)
	}
	return nil
}

// validateChannelURL checks a channel URL with notify.ValidateURL, then
// under the outbound policy: a service whose connections could not be
// policed is refused (scheme_refused, naming the accepted schemes), as is
// a server the policy refuses as written or as it resolves now
// (target_refused). Its message never contains a secret part of the URL.
func validateChannelURL(ctx context.Context, raw string) error {
	if err := notify.ValidateURL(raw); err != nil {
		return errorf(http.StatusBadRequest, "invalid_url", "%s", err.Error())
	}
	if err := notify.CheckScheme(netpolicy.Default(), raw); err != nil {
		return errorf(http.StatusBadRequest, "scheme_refused", "%s", err.Error())
	}
	if err := notify.CheckTarget(ctx, netpolicy.Default(), raw); err != nil {
		return errorf(http.StatusBadRequest, "target_refused", "%s", notify.ScrubURL(err.Error(), raw))
	}
	return nil
}

// Bounds of a subscription's lists, in entries as sent (before duplicates
// are dropped): a list over them is refused with a 400.
const (
	maxSubscriptionEnvironments = 1000
	maxSubscriptionKinds        = 100
)

// checkListLength refuses a subscription list of more than limit entries.
func checkListLength(field string, n, limit int) error {
	if n > limit {
		return errorf(http.StatusBadRequest, "too_many_"+field,
			"%s: %d entries, at most %d are accepted (duplicates count)", field, n, limit)
	}
	return nil
}

// dedup returns list without repeated entries, in first-seen order.
func dedup[T comparable](list []T) []T {
	seen := make(map[T]struct{}, len(list))
	out := make([]T, 0, len(list))
	for _, v := range list {
		if _, ok := seen[v]; !ok {
			seen[v] = struct{}{}
			out = append(out, v)
		}
	}
	return out
}

// validateKinds checks that every kind is known and returns the list
// without duplicates.
func validateKinds(kinds []string) ([]string, error) {
	if err := checkListLength("kinds", len(kinds), maxSubscriptionKinds); err != nil {
		return nil, err
	}
	for _, k := range kinds {
		if !notify.ValidKind(k) {
			return nil, errorf(http.StatusBadRequest, "invalid_kind", "unknown kind %q; kinds are %s",
				shorten(k), strings.Join(notify.AllKinds, ", "))
		}
	}
	return dedup(kinds), nil
}

// environmentIDs parses a subscription's environment list, drops
// duplicates and checks that every environment exists (one query).
func (s *Server) environmentIDs(ctx context.Context, raw []string) ([]uuid.UUID, error) {
	if err := checkListLength("environments", len(raw), maxSubscriptionEnvironments); err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, 0, len(raw))
	for _, r := range raw {
		id, err := uuid.Parse(r)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "invalid_environment", "environments: %q is not a UUID", shorten(r))
		}
		ids = append(ids, id)
	}
	ids = dedup(ids)
	if len(ids) == 0 {
		return ids, nil
	}
	envs, err := s.store.ListEnvironments(ctx)
	if err != nil {
		return nil, err
	}
	known := make(map[uuid.UUID]bool, len(envs))
	for _, e := range envs {
		known[e.ID] = true
	}
	for _, id := range ids {
		if !known[id] {
			return nil, errorf(http.StatusBadRequest, "invalid_environment", "environments: environment %s does not exist", id)
		}
	}
	return ids, nil
}

// applyChannelRequest validates req and applies its fields to c; create
// requires name and url.
func (s *Server) applyChannelRequest(ctx context.Context, c store.Channel, req channelRequest, create bool) (store.Channel, error) {
	if create && (req.Name == nil || req.URL == nil) {
		return c, errorf(http.StatusBadRequest, "invalid_request", "name and url are required")
	}
	if req.Name != nil {
		if err := validateChannelName(*req.Name); err != nil {
			return c, err
		}
		c.Name = *req.Name
	}
	if req.URL != nil {
		if err := validateChannelURL(ctx, *req.URL); err != nil {
			return c, err
		}
		c.URL = *req.URL
	}
	if req.Enabled != nil {
		c.Enabled = *req.Enabled
	}
	if req.Kinds != nil {
		kinds, err := validateKinds(*req.Kinds)
		if err != nil {
			return c, err
		}
		c.Kinds = kinds
	}
	if req.Environments != nil {
		ids, err := s.environmentIDs(ctx, *req.Environments)
		if err != nil {
			return c, err
		}
		c.Environments = ids
	}
	return c, nil
}

// channelWriteError maps the store's errors of a channel write.
func channelWriteError(c store.Channel, err error) error {
	return writeItemError(err, "a channel", c.Name, c.ID, "invalid_request")
}

func (s *Server) createChannel(w http.ResponseWriter, r *http.Request) error {
	req, err := decodeBody[channelRequest](w, r)
	if err != nil {
		return err
	}
	c, err := s.applyChannelRequest(r.Context(), store.Channel{Enabled: true}, req, true)
	if err != nil {
		return err
	}
	created, err := s.store.CreateChannel(r.Context(), c)
	if err != nil {
		return channelWriteError(c, err)
	}
	writeCreated(w, "notification-channels", created.ID, channelView(created))
	return nil
}

func (s *Server) listChannels(w http.ResponseWriter, r *http.Request) error {
	channels, err := s.store.ListChannels(r.Context())
	if err != nil {
		return err
	}
	writeList(w, "channels", channels, channelView)
	return nil
}

// patchChannel changes the fields given; a new url is validated again.
func (s *Server) patchChannel(w http.ResponseWriter, r *http.Request) error {
	req, err := decodeBody[channelRequest](w, r)
	if err != nil {
		return err
	}
	return updateChannel(s, w, r, req, channelView)
}

// putSubscription replaces a channel's subscription: environments (empty =
// all) and kinds (empty = the defaults).
func (s *Server) putSubscription(w http.ResponseWriter, r *http.Request) error {
	req, err := decodeBody[subscriptionRequest](w, r)
	if err != nil {
		return err
	}
	envs, kinds := req.Environments, req.Kinds
	if envs == nil {
		envs = []string{}
	}
	if kinds == nil {
		kinds = []string{}
	}
	return updateChannel(s, w, r, channelRequest{Environments: &envs, Kinds: &kinds}, subscriptionView)
}

// updateChannel applies req to the channel of the route, stores it and
// answers it as view shows it.
func updateChannel[V any](s *Server, w http.ResponseWriter, r *http.Request, req channelRequest, view func(store.Channel) V) error {
	c, err := s.applyChannelRequest(r.Context(), itemFrom[store.Channel](r), req, false)
	if err != nil {
		return err
	}
	updated, err := s.store.UpdateChannel(r.Context(), c)
	if err != nil {
		return channelWriteError(c, err)
	}
	writeJSON(w, http.StatusOK, view(updated))
	return nil
}

// testChannel sends a test notification synchronously (also to a disabled
// channel) and answers whether it was delivered. A failure is a 502 whose
// message is scrubbed of the channel URL.
func (s *Server) testChannel(w http.ResponseWriter, r *http.Request) error {
	c := itemFrom[store.Channel](r)
	ctx, cancel := context.WithTimeout(r.Context(), testSendTimeout)
	defer cancel()
	message := "This is a test notification from Windflow for the channel \"" + c.Name +
		"\". If you can read it, the channel works."
	if err := s.sender.Send(ctx, c.URL, testNotificationTitle, message); err != nil {
		return testSendError(err, c.URL)
	}
	writeJSON(w, http.StatusOK, map[string]bool{"delivered": true})
	return nil
}

// testSendError is the answer to a failed test send. A target or a scheme
// the outbound policy refuses is a 400. A receiver that could not be reached (refused,
// timed out, reset) gets one message whatever the cause, so that the test
// send cannot tell an open port from a closed or filtered one (it would be a
// port scanner); a receiver that answered gets its answer, bounded and
// scrubbed of the channel URL.
func testSendError(err error, channelURL string) error {
	switch {
	case errors.Is(err, netpolicy.ErrRefused):
		return errorf(http.StatusBadRequest, "target_refused", "%s", notify.ScrubURL(err.Error(), channelURL))
	case errors.Is(err, notify.ErrSchemeRefused):
		return errorf(http.StatusBadRequest, "scheme_refused", "%s", notify.ScrubURL(err.Error(), channelURL))
	case errors.Is(err, notify.ErrUnreachable), errors.Is(err, context.DeadlineExceeded):
		return errorf(http.StatusBadGateway, "delivery_failed",
			"the receiver could not be reached or did not answer within %s", testSendTimeout)
	}
	return errorf(http.StatusBadGateway, "delivery_failed", "%s", netpolicy.RemoteText(notify.ScrubURL(err.Error(), channelURL)))
}
