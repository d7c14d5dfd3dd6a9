package auth

import (
	"strconv"
	"testing"
	"time"
)

// TestThrottleBounded: failures under ever new names cannot grow the
// throttle's memory without bound.
func TestThrottleBounded(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	th := NewThrottle(ThrottleRule{Burst: 5, Refill: time.Minute}, func() time.Time { return now })
	for i := range maxThrottleKeys + 10 {
		th.Take("u:" + strconv.Itoa(i))
	}
	if n := len(th.buckets); n > maxThrottleKeys {
		t.Errorf("%d buckets, want at most %d", n, maxThrottleKeys)
	}
	// The newest key is kept, so a guesser still sees its own failures.
	last := "u:" + strconv.Itoa(maxThrottleKeys+9)
	if _, ok := th.buckets[last]; !ok {
		t.Errorf("the newest key was pruned")
	}
}

// TestThrottleFloodKeepsLockouts: filling the map with new keys cannot
// lift a lock-out that is in force.
func TestThrottleFloodKeepsLockouts(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	th := NewThrottle(ThrottleRule{Burst: 5, Refill: time.Minute}, func() time.Time { return now })
	for range 5 {
		th.Take("u:victim")
	}
	if th.Take("u:victim") == nil {
		t.Fatal("victim not locked out after 5 failures")
	}
	for i := range 2 * maxThrottleKeys {
		th.Take("ip:" + strconv.Itoa(i))
	}
	if th.Take("u:victim") == nil {
		t.Error("a flood of new keys lifted the victim's lock-out")
	}
}

func TestThrottleAddr(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":            "192.0.2.1",
		"2001:db8:1:2:aaaa::1": "2001:db8:1:2::/64",
		"2001:db8:1:2:bbbb::9": "2001:db8:1:2::/64",
		"::ffff:192.0.2.1":     "::ffff:192.0.2.1",
		"garbage":              "garbage",
	} {
		if got := throttleAddr(in); got != want {
			t.Errorf("throttleAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
