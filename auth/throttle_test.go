package auth_test

import (
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
		th := auth.NewThrottle(db, auth.ThrottleRule{Burst: 5, Refill: time.Minute}, clock.Now)
		for range 5 {
			th.Take(t.Context(), "u:victim")
		}
		if th.Take(t.Context(), "u:victim") == nil {
			t.Fatal("victim not locked out after 5 failures")
		}
		for i := range 200 {
			clock.Advance(100 * time.Millisecond)
			th.Take(t.Context(), "ip:"+strconv.Itoa(i))
		}
		if th.Take(t.Context(), "u:victim") == nil {
			t.Error("a flood of new keys lifted the victim's lock-out")
		}
	})
}

func TestDefaultRules(t *testing.T) {
	u, ip := auth.DefaultUserRule(), auth.DefaultIPRule()
	if u.Burst < 1 || u.Refill <= 0 || ip.Burst < u.Burst {
		t.Errorf("user rule %+v, ip rule %+v: want positive rules with more room per address than per account", u, ip)
	}
}
