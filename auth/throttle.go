package auth

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// ThrottledError is returned when a username or client address has failed
// to log in too often; RetryAfter says when to try again.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("auth: too many failed logins, retry after %s", e.RetryAfter.Round(time.Second))
}

// ThrottleRule is a token bucket: Burst failures are allowed at once, then
// one more every Refill.
type ThrottleRule struct {
	Burst  float64
	Refill time.Duration
}

// DefaultUserRule bounds password guessing per account: 5 failures at
// once, then one every 30 seconds.
func DefaultUserRule() ThrottleRule { return ThrottleRule{Burst: 5, Refill: 30 * time.Second} }

// DefaultIPRule bounds failures per client address. An address gets more
// room than an account because many users can share one (NAT, offices).
func DefaultIPRule() ThrottleRule { return ThrottleRule{Burst: 20, Refill: 5 * time.Second} }

// maxThrottleKeys bounds the memory an attacker can make the throttle use
// by trying many names: past it, the fullest buckets are forgotten first.
const maxThrottleKeys = 100_000

type bucket struct {
	tokens float64
	last   time.Time
}

// Throttle counts failed logins per key in memory (per replica).
type Throttle struct {
	rule ThrottleRule
	now  func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

// NewThrottle returns an empty throttle.
func NewThrottle(rule ThrottleRule, now func() time.Time) *Throttle {
	return &Throttle{rule: rule, now: now, buckets: map[string]*bucket{}}
}

// refill brings b up to date. Callers hold mu.
func (t *Throttle) refill(b *bucket, now time.Time) {
	if el := now.Sub(b.last); el > 0 {
		b.tokens = math.Min(t.rule.Burst, b.tokens+el.Seconds()/t.rule.Refill.Seconds())
	}
	b.last = now
}

// Take spends one attempt of key before the attempt is made, or returns a
// *ThrottledError when none is left. Checking and spending in one step is
// what keeps parallel guesses from all passing the check before the first
// failure is counted. A successful attempt gives it back (Refund, Succeed).
func (t *Throttle) Take(key string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	b, ok := t.buckets[key]
	if !ok {
		if len(t.buckets) >= maxThrottleKeys {
			t.prune(now)
		}
		b = &bucket{tokens: t.rule.Burst, last: now}
		t.buckets[key] = b
	}
	t.refill(b, now)
	if b.tokens < 1 {
		wait := time.Duration((1 - b.tokens) * float64(t.rule.Refill))
		return &ThrottledError{RetryAfter: max(wait, time.Second)}
	}
	b.tokens--
	return nil
}

// Refund gives back the attempt Take spent, for an attempt that succeeded
// or was never made.
func (t *Throttle) Refund(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if b, ok := t.buckets[key]; ok {
		b.tokens = math.Min(t.rule.Burst, b.tokens+1)
	}
}

// Succeed forgets key's failures.
func (t *Throttle) Succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.buckets, key)
}

// prune makes room: it drops buckets that have refilled, then buckets
// that still allow an attempt. Buckets that are throttling right now go
// last, so flooding the map with new keys cannot lift a lock-out.
// Callers hold mu.
func (t *Throttle) prune(now time.Time) {
	for k, b := range t.buckets {
		t.refill(b, now)
		if b.tokens >= t.rule.Burst {
			delete(t.buckets, k)
		}
	}
	for _, keep := range []func(*bucket) bool{
		func(b *bucket) bool { return b.tokens < 1 },
		func(*bucket) bool { return false },
	} {
		for k, b := range t.buckets {
			if len(t.buckets) < maxThrottleKeys/2 {
				return
			}
			if !keep(b) {
				delete(t.buckets, k)
			}
		}
	}
}
