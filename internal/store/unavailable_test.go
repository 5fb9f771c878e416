package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
)

func TestIsUnavailableClassifiesErrors(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		err  error
		want bool
	}{
		"nil":                    {nil, false},
		"not found":              {fmt.Errorf("store: get environment: %w", store.ErrNotFound), false},
		"invalid":                {fmt.Errorf("store: %w", store.ErrInvalid), false},
		"name taken":             {store.ErrNameTaken, false},
		"canceled":               {fmt.Errorf("query: %w", context.Canceled), false},
		"syntax error":           {&pgconn.PgError{Code: "42601"}, false},
		"unique violation":       {&pgconn.PgError{Code: "23505"}, false},
		"deadline":               {fmt.Errorf("query: %w", context.DeadlineExceeded), true},
		"admin shutdown":         {&pgconn.PgError{Code: "57P01"}, true},
		"cannot connect now":     {&pgconn.PgError{Code: "57P03"}, true},
		"connection failure":     {&pgconn.PgError{Code: "08006"}, true},
		"too many connections":   {&pgconn.PgError{Code: "53300"}, true},
		"net error":              {&net.OpError{Op: "read", Net: "tcp", Err: errors.New("reset")}, true},
		"unexpected EOF":         {fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		"wrapped admin shutdown": {fmt.Errorf("store: insert metrics: %w", &pgconn.PgError{Code: "57P01"}), true},
	} {
		if got := store.IsUnavailable(tc.err); got != tc.want {
			t.Errorf("%s: IsUnavailable(%v) = %v, want %v", name, tc.err, got, tc.want)
		}
	}
}

// TestIsUnavailableOnRealOutage takes the database away behind a proxy:
// the store's errors then are outages; a missing row is not; once the
// database is back the same store works again.
func TestIsUnavailableOnRealOutage(t *testing.T) {
	t.Parallel()
	schemaURL := storetest.NewSchema(t)
	proxy := storetest.NewProxy(t, schemaURL)
	proxied, err := proxy.URL(schemaURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, proxied)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	_, err = st.GetEnvironment(ctx, uuid.New())
	if !errors.Is(err, store.ErrNotFound) || store.IsUnavailable(err) {
		t.Fatalf("missing row: got %v (unavailable %v), want ErrNotFound and not unavailable", err, store.IsUnavailable(err))
	}

	proxy.SetDown(true)
	_, err = st.GetEnvironment(ctx, uuid.New())
	if err == nil || !store.IsUnavailable(err) {
		t.Fatalf("database down: got %v, want an outage", err)
	}
	// A database that accepts no connection within the deadline.
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = st.ListEnvironments(short)
	cancelShort()
	if err == nil || !store.IsUnavailable(err) {
		t.Fatalf("database down, short deadline: got %v, want an outage", err)
	}

	proxy.SetDown(false)
	if _, err := st.GetEnvironment(ctx, uuid.New()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("database back: got %v, want ErrNotFound", err)
	}
}
