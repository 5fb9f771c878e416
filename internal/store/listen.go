package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Prefixes of the NOTIFY channels raised by the triggers of the
// container_events and environment_status tables; the schema follows.
const (
	eventsChannelPrefix = "windflow_events:"
	statusChannelPrefix = "windflow_status:"
	// maxChannelLength is PostgreSQL's identifier limit (NAMEDATALEN - 1).
	maxChannelLength = 63
)

// Timing of Listen.
const (
	listenMinBackoff = 250 * time.Millisecond
	listenMaxBackoff = 10 * time.Second
	// listenIdleCheck is how long the listening connection may stay silent
	// before it is pinged, so that a half-open connection is noticed.
	listenIdleCheck   = 30 * time.Second
	listenPingTimeout = 5 * time.Second
)

// EventsChannel is the NOTIFY channel on which every new container_events
// row of the store's schema is announced, with its ID as payload.
func (s *Store) EventsChannel() string { return channelName(eventsChannelPrefix, s.schema) }

// StatusChannel is the NOTIFY channel on which every new environment_status
// row of the store's schema is announced, with its ID as payload.
func (s *Store) StatusChannel() string { return channelName(statusChannelPrefix, s.schema) }

// channelName mirrors the triggers' left(prefix || schema, 63).
func channelName(prefix, schema string) string {
	name := []rune(prefix + schema)
	if len(name) > maxChannelLength {
		name = name[:maxChannelLength]
	}
	return string(name)
}

// Listen holds one dedicated connection (outside the pool) that LISTENs on
// channels, and calls fn(channel, payload) for each notification until ctx
// ends; then it returns nil. fn runs on the listening goroutine: it must not
// block.
//
// When the connection is lost (or a ping of an idle connection fails) Listen
// reconnects with exponential backoff (250ms to 10s) and listens again.
// Notifications sent while it was away are lost, so onReconnect (when not
// nil) is called each time the channels are listened to — after every
// reconnect, and also after the first LISTEN, which tells the caller that
// notifications flow from now on. A caller catches up from the database in
// onReconnect. It runs on the listening goroutine too.
func (s *Store) Listen(ctx context.Context, channels []string, fn func(channel, payload string), onReconnect func()) error {
	if len(channels) == 0 || fn == nil {
		return fmt.Errorf("store: listen: %w: no channel or no callback", ErrInvalid)
	}
	backoff := listenMinBackoff
	for {
		listened, err := s.listenOnce(ctx, channels, fn, onReconnect)
		if ctx.Err() != nil {
			return nil
		}
		if listened {
			backoff = listenMinBackoff
		}
		slog.Default().Warn("store: listen connection lost; reconnecting",
			"channels", channels, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenMaxBackoff)
	}
}

// listenOnce connects, listens and delivers notifications until the
// connection fails or ctx ends. listened tells whether LISTEN succeeded.
func (s *Store) listenOnce(ctx context.Context, channels []string, fn func(channel, payload string), onListen func()) (listened bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	for _, ch := range channels {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return false, fmt.Errorf("listen %q: %w", ch, err)
		}
	}
	if onListen != nil {
		onListen()
	}
	for {
		waitCtx, cancel := context.WithTimeout(ctx, listenIdleCheck)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case err == nil:
			fn(n.Channel, n.Payload)
		case ctx.Err() != nil:
			return true, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			pingCtx, cancel := context.WithTimeout(ctx, listenPingTimeout)
			err = conn.Ping(pingCtx)
			cancel()
			if err != nil {
				return true, fmt.Errorf("ping idle connection: %w", err)
			}
		default:
			return true, fmt.Errorf("wait for notification: %w", err)
		}
	}
}
