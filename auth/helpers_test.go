package auth_test

import (
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/signer"
)

// t0 is the fake clock's start, in whole seconds as JWT times are.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newKey returns a key with a random 32-byte secret.
func newKey(tb testing.TB, id string) signer.Key {
	tb.Helper()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	return signer.Key{ID: id, Secret: secret}
}

// newRing builds a key ring from keys, primary first.
func newRing(tb testing.TB, keys ...signer.Key) *signer.KeyRing {
	tb.Helper()
	r, err := signer.NewKeyRing(keys...)
	if err != nil {
		tb.Fatalf("NewKeyRing: %v", err)
	}
	return r
}
