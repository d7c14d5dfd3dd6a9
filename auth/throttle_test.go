package auth_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/auth"
)

func TestThrottle(t *testing.T) {
	clock := newClock()
	th := auth.NewThrottle(auth.ThrottleRule{Burst: 3, Refill: 10 * time.Second}, clock.Now)
	// take spends an attempt and returns the wait it was refused with (0:
	// allowed).
	take := func(key string) time.Duration {
		t.Helper()
		err := th.Take(key)
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
	th.Refund("u:alice")
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
	th.Succeed("u:alice")
	if d := take("u:alice"); d != 0 {
		t.Errorf("after Succeed: throttled for %s", d)
	}

	// RetryAfter is at least a second, so Retry-After is never 0.
	th2 := auth.NewThrottle(auth.ThrottleRule{Burst: 1, Refill: 100 * time.Millisecond}, clock.Now)
	th2.Take("k")
	clock.Advance(99 * time.Millisecond)
	var te *auth.ThrottledError
	if err := th2.Take("k"); !errors.As(err, &te) || te.RetryAfter != time.Second {
		t.Errorf("Take = %v, want a retry after 1s", err)
	}
	if msg := te.Error(); msg != "auth: too many failed logins, retry after 1s" {
		t.Errorf("Error() = %q", msg)
	}
}

// TestThrottleParallel: attempts made at once cannot all pass before the
// first failure counts.
func TestThrottleParallel(t *testing.T) {
	th := auth.NewThrottle(auth.ThrottleRule{Burst: 5, Refill: time.Minute}, newClock().Now)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if th.Take("u:alice") == nil {
				allowed.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := allowed.Load(); n != 5 {
		t.Errorf("%d of 60 parallel attempts allowed, want the burst of 5", n)
	}
}

func TestDefaultRules(t *testing.T) {
	u, ip := auth.DefaultUserRule(), auth.DefaultIPRule()
	if u.Burst < 1 || u.Refill <= 0 || ip.Burst < u.Burst {
		t.Errorf("user rule %+v, ip rule %+v: want positive rules with more room per address than per account", u, ip)
	}
}
