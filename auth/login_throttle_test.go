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
	"golang.org/x/crypto/bcrypt"
)

// TestLoginThrottleHoldsUnderParallelGuesses: 60 guesses at once, from 60
// different networks, get no more password checks than the burst.
func TestLoginThrottleHoldsUnderParallelGuesses(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := newClock()
		pw, _ := auth.NewPasswords(10)
		s := auth.NewService(db, pw, newTokens(t, newRing(t, newKey(t, "k1")), "hlsgate", clock), auth.NewRevocationSet(clock.Now), 24*time.Hour, clock.Now)
		if _, err := s.Register(ctx, "alice", password); err != nil {
			t.Fatal(err)
		}
		var tried, throttled atomic.Int64
		var wg sync.WaitGroup
		for i := range 60 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Login(ctx, "alice", "guess"+strconv.Itoa(i), "", "2001:db8:"+strconv.Itoa(i+1)+"::1")
				var te *auth.ThrottledError
				switch {
				case errors.Is(err, auth.ErrBadCredentials):
					tried.Add(1)
				case errors.As(err, &te):
					throttled.Add(1)
				}
			}()
		}
		wg.Wait()
		t.Logf("60 concurrent guesses: %d checked against the password, %d throttled (burst %v)", tried.Load(), throttled.Load(), auth.DefaultUserRule().Burst)
		if tried.Load() > int64(auth.DefaultUserRule().Burst) {
			t.Errorf("throttle let %d guesses through", tried.Load())
		}
	})
}

// TestLoginThrottleSharedByReplicas: two replicas on one database count
// the same failures. A guesser alternating between them is throttled after
// the burst, though neither replica alone has seen that many; a success on
// one forgets the failures on both.
func TestLoginThrottleSharedByReplicas(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := newClock()
		pw, _ := auth.NewPasswords(bcrypt.MinCost)
		ring := newRing(t, newKey(t, "k1"))
		replica := func() *auth.Service {
			return auth.NewService(db, pw, newTokens(t, ring, "hlsgate", clock), auth.NewRevocationSet(clock.Now), time.Hour, clock.Now)
		}
		a, b := replica(), replica()
		if _, err := a.Register(ctx, "alice", password); err != nil {
			t.Fatal(err)
		}
		burst := int(auth.DefaultUserRule().Burst)
		guess := func(s *auth.Service, i int, pass string) error {
			// A new network each time: only the per-account rule applies.
			_, err := s.Login(ctx, "alice", pass, "", "2001:db8:"+strconv.Itoa(i+1)+"::1")
			return err
		}
		for i := range burst {
			s := []*auth.Service{a, b}[i%2]
			if err := guess(s, i, "wrong"); !errors.Is(err, auth.ErrBadCredentials) {
				t.Fatalf("guess %d: %v, want ErrBadCredentials", i, err)
			}
		}
		for i, s := range []*auth.Service{a, b} {
			var te *auth.ThrottledError
			if err := guess(s, 100+i, password); !errors.As(err, &te) || te.RetryAfter <= 0 {
				t.Fatalf("replica %d after %d failures spread over two replicas: %v, want *ThrottledError", i, burst, err)
			}
		}
		// One refill later one attempt is allowed, on either replica.
		clock.Advance(auth.DefaultUserRule().Refill)
		if err := guess(b, 200, password); err != nil {
			t.Fatalf("after a refill period, the right password on replica b: %v", err)
		}
		// That success forgot the failures on both replicas.
		for i := range burst - 1 {
			if err := guess(a, 300+i, "wrong"); !errors.Is(err, auth.ErrBadCredentials) {
				t.Fatalf("after a success, failure %d on replica a: %v, want ErrBadCredentials", i, err)
			}
		}
		if err := guess(a, 400, password); err != nil {
			t.Errorf("after a success and %d new failures: %v", burst-1, err)
		}
	})
}
