package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/server/store"
	"github.com/hlsgate/hlsgate/server/store/storetest"
)

func TestLoginBuckets(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		// read returns key's bucket as change sees it, changing nothing.
		read := func(key string, now time.Time) (store.LoginBucket, bool) {
			t.Helper()
			var got store.LoginBucket
			var found bool
			err := db.UpdateLoginBucket(ctx, key, now, func(b store.LoginBucket, ok bool) (store.LoginBucket, bool) {
				got, found = b, ok
				return b, false
			})
			if err != nil {
				t.Fatal(err)
			}
			return got, found
		}
		set := func(key string, now time.Time, b store.LoginBucket) {
			t.Helper()
			if err := db.UpdateLoginBucket(ctx, key, now, func(store.LoginBucket, bool) (store.LoginBucket, bool) { return b, true }); err != nil {
				t.Fatal(err)
			}
		}

		if _, found := read("u:alice", t0); found {
			t.Fatal("a bucket nobody made was found")
		}
		if _, found := read("u:alice", t0); found {
			t.Fatal("keep=false wrote a bucket")
		}
		alice := store.LoginBucket{Tokens: 3.25, UpdatedAt: t0, FullAt: t0.Add(time.Minute)}
		set("u:alice", t0, alice)
		if got, found := read("u:alice", t0); !found || got != alice {
			t.Errorf("bucket = %+v, %v; want %+v", got, found, alice)
		}
		alice2 := store.LoginBucket{Tokens: 0.5, UpdatedAt: t0.Add(time.Second), FullAt: t0.Add(2 * time.Minute)}
		set("u:alice", t0.Add(time.Second), alice2)
		if got, _ := read("u:alice", t0); got != alice2 {
			t.Errorf("after an update: %+v, want %+v", got, alice2)
		}
		if err := db.DeleteLoginBucket(ctx, "u:alice"); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteLoginBucket(ctx, "u:alice"); err != nil {
			t.Errorf("deleting a bucket that is gone: %v", err)
		}
		if _, found := read("u:alice", t0); found {
			t.Error("a deleted bucket was found")
		}

		// Making a bucket deletes the ones that have refilled, and only those.
		set("ip:a", t0, store.LoginBucket{Tokens: 1, UpdatedAt: t0, FullAt: t0.Add(time.Minute)})
		set("ip:b", t0, store.LoginBucket{Tokens: 1, UpdatedAt: t0, FullAt: t0.Add(time.Hour)})
		later := t0.Add(2 * time.Minute)
		set("ip:c", later, store.LoginBucket{Tokens: 1, UpdatedAt: later, FullAt: later.Add(time.Minute)})
		if n := db.LoginBucketCount(t); n != 2 {
			t.Errorf("%d buckets after a refill, want 2 (ip:b, still throttling, and ip:c)", n)
		}
		if _, found := read("ip:b", later); !found {
			t.Error("a bucket that has not refilled was deleted")
		}
	})
}

// TestLoginBucketsSerialised: changes to one key from many connections at
// once each see the one before, starting with a key that has no row.
func TestLoginBucketsSerialised(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		if got := incrementAtOnce(t, db, 30); got != 30 {
			t.Errorf("%v of 30 increments landed: changes overlapped", got)
		}
	})
}

// TestLoginBucketsUnderRepeatableRead: the lock-then-read transactions do
// not depend on the server's default isolation. Under REPEATABLE READ a
// read after the lock would not see the previous holder's commit (and
// would fail to serialise); the store asks for READ COMMITTED itself.
func TestLoginBucketsUnderRepeatableRead(t *testing.T) {
	dsn := storetest.DSN(t, store.EnginePostgres)
	db, err := store.Open(t.Context(), dsn+"&default_transaction_isolation=repeatable%20read", storetest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := db.DefaultIsolation(t); got != "repeatable read" {
		t.Fatalf("default_transaction_isolation = %q: the test's setting did not reach the server", got)
	}
	if got := incrementAtOnce(t, db, 20); got != 20 {
		t.Errorf("%v of 20 increments landed", got)
	}
}

// incrementAtOnce adds one to a bucket's tokens from n goroutines at once
// and returns the tokens it ends with.
func incrementAtOnce(t *testing.T, db *store.DB, n int) float64 {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := db.UpdateLoginBucket(t.Context(), "u:busy", t0, func(b store.LoginBucket, _ bool) (store.LoginBucket, bool) {
				b.Tokens++
				b.UpdatedAt, b.FullAt = t0, t0.Add(time.Hour)
				return b, true
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var got float64
	err := db.UpdateLoginBucket(t.Context(), "u:busy", t0, func(b store.LoginBucket, _ bool) (store.LoginBucket, bool) {
		got = b.Tokens
		return b, false
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}
