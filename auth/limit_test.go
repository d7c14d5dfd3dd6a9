package auth_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/auth"
	"github.com/hlsgate/hlsgate/server/store"
	"github.com/hlsgate/hlsgate/server/store/storetest"
	"github.com/hlsgate/hlsgate/signer"
	"golang.org/x/crypto/bcrypt"
)

func newLimitService(t *testing.T, db *store.DB, max int, policy string) *auth.Service {
	t.Helper()
	k, err := signer.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := signer.NewKeyRing(k)
	pw, err := auth.NewPasswords(bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.NewTokens(ring, "hlsgate", time.Now)
	if err != nil {
		t.Fatal(err)
	}
	s := auth.NewService(db, pw, tok, auth.NewRevocationSet(time.Now), time.Hour, time.Now)
	s.MaxSessions, s.LimitPolicy = max, policy
	return s
}

func TestSessionLimit(t *testing.T) {
	for _, engine := range storetest.Engines(t) {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Open(t, engine)

			t.Run("reject-new", func(t *testing.T) {
				s := newLimitService(t, db, 2, auth.LimitRejectNew)
				if _, err := s.Register(ctx, "rita", "password1"); err != nil {
					t.Fatal(err)
				}
				for i := 0; i < 2; i++ {
					if _, err := s.Login(ctx, "rita", "password1", "ua", "192.0.2.1"); err != nil {
						t.Fatalf("login %d: %v", i, err)
					}
				}
				if _, err := s.Login(ctx, "rita", "password1", "ua", "192.0.2.1"); !errors.Is(err, auth.ErrSessionLimit) {
					t.Fatalf("third login: %v, want ErrSessionLimit", err)
				}
			})

			t.Run("evict-oldest", func(t *testing.T) {
				s := newLimitService(t, db, 2, auth.LimitEvictOldest)
				if _, err := s.Register(ctx, "eve", "password1"); err != nil {
					t.Fatal(err)
				}
				var logins []auth.LoginResult
				for i := 0; i < 3; i++ {
					res, err := s.Login(ctx, "eve", "password1", "ua", "192.0.2.1")
					if err != nil {
						t.Fatalf("login %d: %v", i, err)
					}
					logins = append(logins, res)
					time.Sleep(5 * time.Millisecond) // distinct created_at
				}
				if _, err := s.Authenticate(ctx, logins[0].Token); !errors.Is(err, auth.ErrSessionInvalid) {
					t.Errorf("oldest session after eviction: %v, want ErrSessionInvalid", err)
				}
				oldest, _ := signer.ParseSessionID(logins[0].Session.ID)
				if !s.Revocations.Revoked(oldest) {
					t.Error("evicted session not in the revocation set: its stream tokens would still play")
				}
				for _, l := range logins[1:] {
					if _, err := s.Authenticate(ctx, l.Token); err != nil {
						t.Errorf("newer session: %v", err)
					}
				}
			})

			// Logins at the same instant, as from a shared account's
			// many devices, hold to the cap too.
			for _, policy := range []string{auth.LimitRejectNew, auth.LimitEvictOldest} {
				t.Run("concurrent "+policy, func(t *testing.T) {
					const logins, max = 10, 1
					s := newLimitService(t, db, max, policy)
					u, err := s.Register(ctx, "many-"+policy, "password1")
					if err != nil {
						t.Fatal(err)
					}
					results := make([]auth.LoginResult, logins)
					errs := make([]error, logins)
					var wg sync.WaitGroup
					for i := range logins {
						wg.Add(1)
						go func() {
							defer wg.Done()
							results[i], errs[i] = s.OpenSession(ctx, u.ID, "ua", "192.0.2.1")
						}()
					}
					wg.Wait()
					playing := 0
					for i, err := range errs {
						if errors.Is(err, auth.ErrSessionLimit) && policy == auth.LimitRejectNew {
							continue
						}
						if err != nil {
							t.Fatalf("login %d: %v", i, err)
						}
						sid, _ := signer.ParseSessionID(results[i].Session.ID)
						if _, err := s.Authenticate(ctx, results[i].Token); err == nil && !s.Revocations.Revoked(sid) {
							playing++
						}
					}
					if playing != max {
						t.Errorf("%d of %d concurrent logins hold a usable session, want %d", playing, logins, max)
					}
				})
			}
		})
	}
}
