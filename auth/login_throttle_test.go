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
