package auth

import (
	"context"
	"fmt"
	"math"
	"sync"
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
//
// A flood of guesses at one key costs the database little: a replica
// sends one change per key at a time (the rest wait their turn here, not
// on a pooled connection), and once the store has refused a key the
// replica refuses it itself until the wait it was given is over.
type Throttle struct {
	store BucketStore
	rule  ThrottleRule
	now   func() time.Time

	mu      sync.Mutex
	turns   map[string]*turn     // keys with a change under way here
	refused map[string]time.Time // keys the store refused, until when
}

// turn admits one change of a key at a time.
type turn struct {
	slot    chan struct{}
	waiters int // guarded by Throttle.mu
}

// maxRefusedKeys bounds the refusals a replica remembers; past it, new
// refusals are asked of the store again, which is only slower.
const maxRefusedKeys = 100_000

// settleTimeout bounds Refund and Succeed, which run on after the request
// that called them has ended: giving back an attempt must not be lost to
// a client that hung up.
const settleTimeout = 5 * time.Second

// NewThrottle returns a throttle kept in st.
func NewThrottle(st BucketStore, rule ThrottleRule, now func() time.Time) *Throttle {
	return &Throttle{store: st, rule: rule, now: now, turns: map[string]*turn{}, refused: map[string]time.Time{}}
}

// Take spends one attempt of key before the attempt is made, or returns a
// *ThrottledError when none is left, or the store's error (the login then
// fails as unavailable). Checking and spending in one transaction is what
// keeps parallel guesses, on any replicas, from all passing the check
// before the first failure is counted. A successful attempt gives it back
// (Refund, Succeed).
func (t *Throttle) Take(ctx context.Context, key string) error {
	if err := t.refusedNow(key); err != nil {
		return err
	}
	done, err := t.await(ctx, key)
	if err != nil {
		return fmt.Errorf("auth: login throttle: %w", err)
	}
	defer done()
	if err := t.refusedNow(key); err != nil {
		return err // refused while this call waited its turn
	}
	var until time.Time
	err = t.store.UpdateLoginBucket(ctx, key, t.now(), func(b store.LoginBucket, found bool) (store.LoginBucket, bool) {
		at, tokens := t.current(b, found)
		if tokens < 1 {
			until = at.Add(time.Duration((1 - tokens) * float64(t.rule.Refill)))
			return b, false
		}
		return t.bucket(tokens-1, at), true
	})
	if err != nil {
		return fmt.Errorf("auth: login throttle: %w", err)
	}
	if !until.IsZero() {
		t.refuse(key, until)
		return t.refusedNow(key)
	}
	return nil
}

// Refund gives back the attempt Take spent, for an attempt that succeeded
// or was never made. A store error leaves it spent, erring on the side of
// the throttle.
func (t *Throttle) Refund(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	t.mu.Lock()
	delete(t.refused, key)
	t.mu.Unlock()
	done, err := t.await(ctx, key)
	if err != nil {
		return
	}
	defer done()
	_ = t.store.UpdateLoginBucket(ctx, key, t.now(), func(b store.LoginBucket, found bool) (store.LoginBucket, bool) {
		if !found {
			return b, false
		}
		at, tokens := t.current(b, found)
		return t.bucket(math.Min(t.rule.Burst, tokens+1), at), true
	})
}

// Succeed forgets key's failures.
func (t *Throttle) Succeed(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	t.mu.Lock()
	delete(t.refused, key)
	t.mu.Unlock()
	_ = t.store.DeleteLoginBucket(ctx, key)
}

// current is the bucket's time and tokens now. A bucket last changed by a
// replica whose clock is ahead keeps that time, so the skew is not counted
// as refill by the next replica.
func (t *Throttle) current(b store.LoginBucket, found bool) (time.Time, float64) {
	now := t.now()
	if !found {
		return now, t.rule.Burst
	}
	at := now
	if b.UpdatedAt.After(at) {
		at = b.UpdatedAt
	}
	return at, t.rule.refilled(b.Tokens, b.UpdatedAt, at)
}

// bucket is the row for a bucket holding tokens at at.
func (t *Throttle) bucket(tokens float64, at time.Time) store.LoginBucket {
	full := at.Add(time.Duration((t.rule.Burst - tokens) * float64(t.rule.Refill)))
	return store.LoginBucket{Tokens: tokens, UpdatedAt: at, FullAt: full}
}

// await waits for key's turn on this replica; done ends it.
func (t *Throttle) await(ctx context.Context, key string) (done func(), err error) {
	t.mu.Lock()
	tu := t.turns[key]
	if tu == nil {
		tu = &turn{slot: make(chan struct{}, 1)}
		t.turns[key] = tu
	}
	tu.waiters++
	t.mu.Unlock()
	leave := func() {
		t.mu.Lock()
		if tu.waiters--; tu.waiters == 0 {
			delete(t.turns, key)
		}
		t.mu.Unlock()
	}
	select {
	case tu.slot <- struct{}{}:
		return func() { <-tu.slot; leave() }, nil
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
}

// refuse remembers that the store refused key until until.
func (t *Throttle) refuse(key string, until time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.refused) >= maxRefusedKeys {
		now := t.now()
		for k, u := range t.refused {
			if !now.Before(u) {
				delete(t.refused, k)
			}
		}
		if len(t.refused) >= maxRefusedKeys {
			return
		}
	}
	t.refused[key] = until
}

// refusedNow returns a *ThrottledError while key's remembered refusal
// lasts. A refusal can outlast the bucket by at most one attempt's wait,
// when another replica gives an attempt back meanwhile (Refund).
func (t *Throttle) refusedNow(key string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	until, ok := t.refused[key]
	if !ok {
		return nil
	}
	if wait := until.Sub(t.now()); wait > 0 {
		return &ThrottledError{RetryAfter: max(wait, time.Second)}
	}
	delete(t.refused, key)
	return nil
}
