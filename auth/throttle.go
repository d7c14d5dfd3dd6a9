package auth

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/hlsgate/hlsgate/server/store"
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

// refilled is what a bucket holding tokens at last holds at now.
func (r ThrottleRule) refilled(tokens float64, last, now time.Time) float64 {
	if el := now.Sub(last); el > 0 {
		tokens = math.Min(r.Burst, tokens+el.Seconds()/r.Refill.Seconds())
	}
	return tokens
}

// wait is how long a bucket holding tokens (fewer than one) takes to
// allow an attempt; at least a second, the resolution of Retry-After.
func (r ThrottleRule) wait(tokens float64) time.Duration {
	return max(time.Duration((1-tokens)*float64(r.Refill)), time.Second)
}

// BucketStore keeps the login buckets (see store.UpdateLoginBucket).
type BucketStore interface {
	UpdateLoginBucket(ctx context.Context, key string, now time.Time, change func(b store.LoginBucket, found bool) (store.LoginBucket, bool)) error
	DeleteLoginBucket(ctx context.Context, key string) error
}

// Throttle counts failed logins per key in the database, so every replica
// of a fleet counts the same failures: a guesser spreading attempts over
// the replicas behind a load balancer gets no more than one replica would
// give. Each call is one short transaction on the key; an attempt turned
// away writes nothing. Buckets that have refilled are deleted as new ones
// are made, so the table holds only keys with recent failures, and a flood
// of new keys cannot push out a lock-out in force.
type Throttle struct {
	store BucketStore
	rule  ThrottleRule
	now   func() time.Time
}

// NewThrottle returns a throttle kept in st.
func NewThrottle(st BucketStore, rule ThrottleRule, now func() time.Time) *Throttle {
	return &Throttle{store: st, rule: rule, now: now}
}

// Take spends one attempt of key before the attempt is made, or returns a
// *ThrottledError when none is left, or the store's error (the login then
// fails as unavailable). Checking and spending in one transaction is what
// keeps parallel guesses, on any replicas, from all passing the check
// before the first failure is counted. A successful attempt gives it back
// (Refund, Succeed).
func (t *Throttle) Take(ctx context.Context, key string) error {
	now := t.now()
	var throttled *ThrottledError
	err := t.store.UpdateLoginBucket(ctx, key, now, func(b store.LoginBucket, found bool) (store.LoginBucket, bool) {
		tokens := t.rule.Burst
		if found {
			tokens = t.rule.refilled(b.Tokens, b.UpdatedAt, now)
		}
		if tokens < 1 {
			throttled = &ThrottledError{RetryAfter: t.rule.wait(tokens)}
			return b, false
		}
		return t.bucket(tokens-1, now), true
	})
	if err != nil {
		return fmt.Errorf("auth: login throttle: %w", err)
	}
	if throttled != nil {
		return throttled
	}
	return nil
}

// Refund gives back the attempt Take spent, for an attempt that succeeded
// or was never made. A store error leaves it spent, erring on the side of
// the throttle.
func (t *Throttle) Refund(ctx context.Context, key string) {
	now := t.now()
	_ = t.store.UpdateLoginBucket(ctx, key, now, func(b store.LoginBucket, found bool) (store.LoginBucket, bool) {
		if !found {
			return b, false
		}
		return t.bucket(math.Min(t.rule.Burst, t.rule.refilled(b.Tokens, b.UpdatedAt, now)+1), now), true
	})
}

// Succeed forgets key's failures.
func (t *Throttle) Succeed(ctx context.Context, key string) {
	_ = t.store.DeleteLoginBucket(ctx, key)
}

// bucket is the row for a bucket holding tokens at now.
func (t *Throttle) bucket(tokens float64, now time.Time) store.LoginBucket {
	full := now.Add(time.Duration((t.rule.Burst - tokens) * float64(t.rule.Refill)))
	return store.LoginBucket{Tokens: tokens, UpdatedAt: now, FullAt: full}
}
