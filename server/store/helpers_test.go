package store_test

import (
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/server/store"
	"github.com/hlsgate/hlsgate/server/store/storetest"
)

// t0 is a fixed clock for tests, in UTC with whole milliseconds so that
// times survive the round trip through BIGINT milliseconds unchanged.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// eachEngine runs f as a subtest per engine on a fresh database.
func eachEngine(t *testing.T, f func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, engine := range storetest.Engines(t) {
		t.Run(engine, func(t *testing.T) {
			f(t, storetest.Open(t, engine))
		})
	}
}

func mustUser(tb testing.TB, db *store.DB, name string) store.User {
	tb.Helper()
	u, err := db.CreateUser(tb.Context(), name, "hash-of-"+name, t0)
	if err != nil {
		tb.Fatalf("CreateUser(%q): %v", name, err)
	}
	return u
}

func mustStream(tb testing.TB, db *store.DB, ownerID int64, name string) store.Stream {
	tb.Helper()
	s, err := db.CreateStream(tb.Context(), store.Stream{OwnerID: ownerID, Name: name, URL: "https://origin.example/" + name + ".m3u8"}, t0)
	if err != nil {
		tb.Fatalf("CreateStream(%q): %v", name, err)
	}
	return s
}

// sessionID makes a valid session id (32 lowercase hex characters) from a
// small number, so tests can name sessions.
func sessionID(n int) string {
	const hex = "0123456789abcdef"
	b := []byte("00000000000000000000000000000000")
	for i := len(b) - 1; n > 0; i-- {
		b[i] = hex[n%16]
		n /= 16
	}
	return string(b)
}

func ptr[T any](v T) *T { return &v }
