package auth_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/auth"
	"github.com/hlsgate/hlsgate/server/store"
)

func TestThrottle(t *testing.T) {
	eachEngine(t, testThrottle)
}

func testThrottle(t *testing.T, db *store.DB) {
	clock := newClock()
	th := auth.NewThrottle(db, auth.ThrottleRule{Burst: 3, Refill: 10 * time.Second}, clock.Now)
	// take spends an attempt and returns the wait it was refused with (0:
	// allowed).
	take := func(key string) time.Duration {
		t.Helper()
		err := th.Take(t.Context(), key)
		if err == nil {
			return 0
		}
		var te *auth.ThrottledError
		if !errors.As(err, &te) {
			t.Fatalf("Take = %v, want *ThrottledError", err)
		}
		return te.RetryAfter
	}

	for i := range 3 {
		if d := take("u:alice"); d != 0 {
			t.Fatalf("attempt %d refused, want the burst of 3 allowed", i+1)
		}
	}
	if d := take("u:alice"); d != 10*time.Second {
		t.Errorf("after the burst: retry after %s, want 10s", d)
	}
	if d := take("u:bob"); d != 0 {
		t.Errorf("another key is throttled for %s", d)
	}
	// Refund gives one attempt back.
	th.Refund(t.Context(), "u:alice")
	if d := take("u:alice"); d != 0 {
		t.Errorf("after Refund: throttled for %s", d)
	}
	clock.Advance(4 * time.Second)
	if d := take("u:alice"); d != 6*time.Second {
		t.Errorf("4 s later: retry after %s, want 6s", d)
	}
	clock.Advance(6 * time.Second)
	if d := take("u:alice"); d != 0 {
		t.Errorf("after the refill: still throttled for %s", d)
	}
	if d := take("u:alice"); d != 10*time.Second {
		t.Errorf("one refill allows one attempt: retry after %s, want 10s", d)
	}
	// A full refill never exceeds the burst.
	clock.Advance(time.Hour)
	for range 3 {
		take("u:alice")
	}
	if take("u:alice") == 0 {
		t.Errorf("an hour's rest gave more than the burst")
	}
	// Success forgets the failures.
	th.Succeed(t.Context(), "u:alice")
	if d := take("u:alice"); d != 0 {
		t.Errorf("after Succeed: throttled for %s", d)
	}

	// RetryAfter is at least a second, so Retry-After is never 0.
	th2 := auth.NewThrottle(db, auth.ThrottleRule{Burst: 1, Refill: 100 * time.Millisecond}, clock.Now)
	th2.Take(t.Context(), "k")
	clock.Advance(99 * time.Millisecond)
	var te *auth.ThrottledError
	if err := th2.Take(t.Context(), "k"); !errors.As(err, &te) || te.RetryAfter != time.Second {
		t.Errorf("Take = %v, want a retry after 1s", err)
	}
	if msg := te.Error(); msg != "auth: too many failed logins, retry after 1s" {
		t.Errorf("Error() = %q", msg)
	}
}

// TestThrottleParallel: attempts made at once, each through a throttle of
// its own as on separate replicas, cannot all pass before the first
// failure counts: the bucket changes in one transaction per attempt,
// serialised per key, even while the key has no row yet.
func TestThrottleParallel(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		clock := newClock()
		rule := auth.ThrottleRule{Burst: 5, Refill: time.Minute}
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for range 24 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := auth.NewThrottle(db, rule, clock.Now).Take(t.Context(), "u:alice")
				var te *auth.ThrottledError
				switch {
				case err == nil:
					allowed.Add(1)
				case !errors.As(err, &te):
					t.Errorf("Take: %v", err)
				}
			}()
		}
		wg.Wait()
		if n := allowed.Load(); n != 5 {
			t.Errorf("%d of 24 parallel attempts allowed, want the burst of 5", n)
		}
	})
}

// TestThrottleFloodKeepsLockouts: failures under ever new names (which
// clean up refilled buckets as they go) cannot lift a lock-out in force.
func TestThrottleFloodKeepsLockouts(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		clock := newClock()
		users := auth.NewThrottle(db, auth.ThrottleRule{Burst: 5, Refill: time.Hour}, clock.Now)
		addrs := auth.NewThrottle(db, auth.ThrottleRule{Burst: 5, Refill: time.Second}, clock.Now)
		for range 5 {
			if err := users.Take(t.Context(), "u:victim"); err != nil {
				t.Fatal(err)
			}
		}
		// Address buckets refill within a second, so each new one made
		// later deletes the ones before it.
		for i := range 200 {
			clock.Advance(100 * time.Millisecond)
			if err := addrs.Take(t.Context(), "ip:"+strconv.Itoa(i)); err != nil {
				t.Fatalf("flood key %d: %v", i, err)
			}
		}
		// Another replica, which has no refusal of its own to remember,
		// asks the database.
		other := auth.NewThrottle(db, auth.ThrottleRule{Burst: 5, Refill: time.Hour}, clock.Now)
		var te *auth.ThrottledError
		if err := other.Take(t.Context(), "u:victim"); !errors.As(err, &te) {
			t.Errorf("after a flood of new keys the victim's attempt got %v, want *ThrottledError", err)
		}
	})
}

// TestThrottleFlood: 300 guesses at once at one key over three replicas
// get the burst and refusals, never a database error, and each replica
// sends one change of the key at a time, so the flood holds at most one
// database connection per replica.
func TestThrottleFlood(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		clock := newClock()
		rule := auth.ThrottleRule{Burst: 5, Refill: time.Minute}
		var allowed, refused atomic.Int64
		var wg sync.WaitGroup
		replicas := make([]*concurrentBuckets, 3)
		for i := range replicas {
			replicas[i] = &concurrentBuckets{BucketStore: db}
			th := auth.NewThrottle(replicas[i], rule, clock.Now)
			for range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := th.Take(t.Context(), "u:flooded")
					var te *auth.ThrottledError
					switch {
					case err == nil:
						allowed.Add(1)
					case errors.As(err, &te):
						refused.Add(1)
					default:
						t.Errorf("Take: %v", err)
					}
				}()
			}
		}
		wg.Wait()
		if allowed.Load() != 5 || refused.Load() != 295 {
			t.Errorf("%d allowed, %d refused; want 5 and 295", allowed.Load(), refused.Load())
		}
		for i, r := range replicas {
			if n := r.most.Load(); n != 1 {
				t.Errorf("replica %d had %d changes of the key in flight at once, want 1", i, n)
			}
		}
	})
}

// concurrentBuckets records the most bucket changes in flight at once.
type concurrentBuckets struct {
	auth.BucketStore
	now, most atomic.Int64
}

func (c *concurrentBuckets) UpdateLoginBucket(ctx context.Context, key string, now time.Time, change func(store.LoginBucket, bool) (store.LoginBucket, bool)) error {
	n := c.now.Add(1)
	defer c.now.Add(-1)
	for {
		m := c.most.Load()
		if n <= m || c.most.CompareAndSwap(m, n) {
			break
		}
	}
	return c.BucketStore.UpdateLoginBucket(ctx, key, now, change)
}

// countingBuckets counts a store's bucket changes.
type countingBuckets struct {
	auth.BucketStore
	changes atomic.Int64
}

func (c *countingBuckets) UpdateLoginBucket(ctx context.Context, key string, now time.Time, change func(store.LoginBucket, bool) (store.LoginBucket, bool)) error {
	c.changes.Add(1)
	return c.BucketStore.UpdateLoginBucket(ctx, key, now, change)
}

// TestThrottleRemembersRefusals: once the database has refused a key, the
// replica refuses it itself, with the wait it was given, until that wait
// is over.
func TestThrottleRemembersRefusals(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		clock := newClock()
		st := &countingBuckets{BucketStore: db}
		th := auth.NewThrottle(st, auth.ThrottleRule{Burst: 2, Refill: 10 * time.Second}, clock.Now)
		for range 3 {
			th.Take(t.Context(), "u:alice")
		}
		asked := st.changes.Load()
		clock.Advance(3 * time.Second)
		for range 50 {
			var te *auth.ThrottledError
			if err := th.Take(t.Context(), "u:alice"); !errors.As(err, &te) || te.RetryAfter != 7*time.Second {
				t.Fatalf("remembered refusal: %v, want a retry after 7s", err)
			}
		}
		if n := st.changes.Load() - asked; n != 0 {
			t.Errorf("%d database changes for refusals it already knew", n)
		}
		clock.Advance(7 * time.Second)
		if err := th.Take(t.Context(), "u:alice"); err != nil {
			t.Errorf("once the wait is over: %v", err)
		}
	})
}

// TestThrottleClockSkew: a replica whose clock is behind does not turn
// the skew into refill for the next replica.
func TestThrottleClockSkew(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		rule := auth.ThrottleRule{Burst: 2, Refill: 10 * time.Second}
		ahead, behind := newClock(), newClock()
		ahead.Advance(10 * time.Second)
		a := auth.NewThrottle(db, rule, ahead.Now)
		b := auth.NewThrottle(db, rule, behind.Now)
		if err := a.Take(t.Context(), "u:alice"); err != nil {
			t.Fatal(err)
		}
		if err := b.Take(t.Context(), "u:alice"); err != nil {
			t.Fatal(err)
		}
		// No time has passed on a's clock: the bucket is empty.
		a2 := auth.NewThrottle(db, rule, ahead.Now)
		var te *auth.ThrottledError
		if err := a2.Take(t.Context(), "u:alice"); !errors.As(err, &te) {
			t.Errorf("third attempt with no time passed: %v, want *ThrottledError (the skew counted as refill)", err)
		}
	})
}

func TestDefaultRules(t *testing.T) {
	u, ip := auth.DefaultUserRule(), auth.DefaultIPRule()
	if u.Burst < 1 || u.Refill <= 0 || ip.Burst < u.Burst {
		t.Errorf("user rule %+v, ip rule %+v: want positive rules with more room per address than per account", u, ip)
	}
}
