package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/auth"
)

func TestThrottle(t *testing.T) {
	clock := newClock()
	th := auth.NewThrottle(auth.ThrottleRule{Burst: 3, Refill: 10 * time.Second}, clock.Now)
	retryAfter := func(key string) time.Duration {
		t.Helper()
		err := th.Check(key)
		if err == nil {
			return 0
		}
		var te *auth.ThrottledError
		if !errors.As(err, &te) {
			t.Fatalf("Check = %v, want *ThrottledError", err)
		}
		return te.RetryAfter
	}

	if d := retryAfter("u:alice"); d != 0 {
		t.Fatalf("a fresh key is throttled for %s", d)
	}
	for i := range 3 {
		if d := retryAfter("u:alice"); d != 0 {
			t.Fatalf("throttled after %d failures, want after 3", i)
		}
		th.Fail("u:alice")
	}
	if d := retryAfter("u:alice"); d != 10*time.Second {
		t.Errorf("after the burst: retry after %s, want 10s", d)
	}
	if d := retryAfter("u:bob"); d != 0 {
		t.Errorf("another key is throttled for %s", d)
	}

	// Failing while throttled does not dig deeper than empty.
	th.Fail("u:alice")
	clock.Advance(4 * time.Second)
	if d := retryAfter("u:alice"); d != 6*time.Second {
		t.Errorf("4 s later: retry after %s, want 6s", d)
	}
	clock.Advance(6 * time.Second)
	if d := retryAfter("u:alice"); d != 0 {
		t.Errorf("after the refill: still throttled for %s", d)
	}
	th.Fail("u:alice")
	if d := retryAfter("u:alice"); d != 10*time.Second {
		t.Errorf("one refill allows one failure: retry after %s, want 10s", d)
	}
	// A full refill never exceeds the burst.
	clock.Advance(time.Hour)
	for range 3 {
		th.Fail("u:alice")
	}
	if retryAfter("u:alice") == 0 {
		t.Errorf("an hour's rest gave more than the burst")
	}

	// Success forgets the failures.
	th.Succeed("u:alice")
	if d := retryAfter("u:alice"); d != 0 {
		t.Errorf("after Succeed: throttled for %s", d)
	}

	// RetryAfter is at least a second, so Retry-After is never 0.
	th2 := auth.NewThrottle(auth.ThrottleRule{Burst: 1, Refill: 100 * time.Millisecond}, clock.Now)
	th2.Fail("k")
	clock.Advance(99 * time.Millisecond)
	var te *auth.ThrottledError
	if err := th2.Check("k"); !errors.As(err, &te) || te.RetryAfter != time.Second {
		t.Errorf("Check = %v, want a retry after 1s", err)
	}
	if msg := te.Error(); msg != "auth: too many failed logins, retry after 1s" {
		t.Errorf("Error() = %q", msg)
	}
}

func TestDefaultRules(t *testing.T) {
	u, ip := auth.DefaultUserRule(), auth.DefaultIPRule()
	if u.Burst < 1 || u.Refill <= 0 || ip.Burst < u.Burst {
		t.Errorf("user rule %+v, ip rule %+v: want positive rules with more room per address than per account", u, ip)
	}
}
