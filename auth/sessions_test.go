package auth_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/auth"
	"github.com/hlsgate/hlsgate/server/store"
	"github.com/hlsgate/hlsgate/server/store/storetest"
	"github.com/hlsgate/hlsgate/signer"
	"golang.org/x/crypto/bcrypt"
)

const password = "correct horse battery"

// newService wires a Service over db with a fake clock.
func newService(tb testing.TB, db *store.DB, ring *signer.KeyRing, clock *fakeClock) *auth.Service {
	tb.Helper()
	pw, err := auth.NewPasswords(bcrypt.MinCost)
	if err != nil {
		tb.Fatal(err)
	}
	tokens := newTokens(tb, ring, "hlsgate", clock)
	rev := auth.NewRevocationSet(clock.Now)
	if err := rev.Sync(context.Background(), db); err != nil {
		tb.Fatal(err)
	}
	return auth.NewService(db, pw, tokens, rev, 24*time.Hour, clock.Now)
}

func eachEngine(t *testing.T, f func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, engine := range storetest.Engines(t) {
		t.Run(engine, func(t *testing.T) { f(t, storetest.Open(t, engine)) })
	}
}

func login(tb testing.TB, s *auth.Service, name, pw string) auth.LoginResult {
	tb.Helper()
	res, err := s.Login(context.Background(), name, pw, "test-agent", "192.0.2.1")
	if err != nil {
		tb.Fatalf("Login(%q): %v", name, err)
	}
	return res
}

func TestServiceSessions(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := newClock()
		s := newService(t, db, newRing(t, newKey(t, "k1")), clock)

		u, err := s.Register(ctx, "Alice", password)
		if err != nil {
			t.Fatalf("Register: %v", err)
		}
		if _, err := s.Register(ctx, "alice", password); !errors.Is(err, store.ErrConflict) {
			t.Errorf("second Register in another case = %v, want ErrConflict", err)
		}

		res := login(t, s, "alice", password)
		if !res.ExpiresAt.Equal(t0.Add(24*time.Hour)) || res.Session.UserID != u.ID || res.Session.UserAgent != "test-agent" || res.Session.IP != "192.0.2.1" {
			t.Errorf("Login = %+v", res)
		}
		who, err := s.Authenticate(ctx, res.Token)
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		if who.UserID != u.ID || who.Username != "Alice" || who.SessionID.String() != res.Session.ID || !who.SessionExpires.Equal(res.ExpiresAt) {
			t.Errorf("Authenticate = %+v", who)
		}

		for _, tc := range []struct{ name, user, pw string }{
			{"wrong password", "alice", "wrong password"},
			{"unknown user", "nobody", password},
			{"empty password", "alice", ""},
		} {
			if _, err := s.Login(ctx, tc.user, tc.pw, "", "192.0.2.2"); !errors.Is(err, auth.ErrBadCredentials) {
				t.Errorf("%s: Login = %v, want ErrBadCredentials", tc.name, err)
			}
		}

		// Sessions, Revoke, RevokeAll.
		second := login(t, s, "alice", password)
		third := login(t, s, "alice", password)
		if list, err := s.Sessions(ctx, u.ID); err != nil || len(list) != 3 {
			t.Fatalf("Sessions = %d, %v; want 3", len(list), err)
		}
		sid2, _ := signer.ParseSessionID(second.Session.ID)
		if err := s.Revoke(ctx, u.ID+1, sid2); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Revoke by another user = %v, want ErrNotFound", err)
		}
		if err := s.Revoke(ctx, u.ID, signer.NewSessionID()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Revoke of an unknown session = %v, want ErrNotFound", err)
		}
		if err := s.Revoke(ctx, u.ID, sid2); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if !s.Revocations.Revoked(sid2) {
			t.Errorf("Revoke did not reach the in-memory set")
		}
		if _, err := s.Authenticate(ctx, second.Token); !errors.Is(err, auth.ErrSessionInvalid) {
			t.Errorf("Authenticate after Revoke = %v, want ErrSessionInvalid", err)
		}
		if n, err := s.RevokeAll(ctx, u.ID, who.SessionID); err != nil || n != 1 {
			t.Errorf("RevokeAll keeping one = %d, %v; want 1", n, err)
		}
		if _, err := s.Authenticate(ctx, third.Token); !errors.Is(err, auth.ErrSessionInvalid) {
			t.Errorf("Authenticate of a session RevokeAll ended = %v", err)
		}
		if _, err := s.Authenticate(ctx, res.Token); err != nil {
			t.Errorf("RevokeAll ended the kept session: %v", err)
		}

		// ChangePassword keeps the caller, ends the rest.
		other := login(t, s, "alice", password)
		if err := s.ChangePassword(ctx, who, "wrong", "new password 1"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Errorf("ChangePassword with a wrong current = %v", err)
		}
		if err := s.ChangePassword(ctx, who, password, "new password 1"); err != nil {
			t.Fatalf("ChangePassword: %v", err)
		}
		if _, err := s.Authenticate(ctx, res.Token); err != nil {
			t.Errorf("ChangePassword ended the caller's session: %v", err)
		}
		if _, err := s.Authenticate(ctx, other.Token); !errors.Is(err, auth.ErrSessionInvalid) {
			t.Errorf("ChangePassword kept another session: %v", err)
		}
		if _, err := s.Login(ctx, "alice", password, "", "192.0.2.3"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Errorf("the old password still works: %v", err)
		}
		clock.Advance(time.Hour)
		login(t, s, "alice", "new password 1")

		// Expiry: the sessions of t0 end, the one of t0+1h lives on.
		clock.Advance(23 * time.Hour)
		if _, err := s.Authenticate(ctx, res.Token); !errors.Is(err, auth.ErrInvalidToken) && !errors.Is(err, auth.ErrSessionInvalid) {
			t.Errorf("Authenticate after expiry = %v", err)
		}
		if list, err := s.Sessions(ctx, u.ID); err != nil || len(list) != 1 {
			t.Errorf("Sessions after expiry = %d, %v; want only the last login", len(list), err)
		}
	})
}

func TestServiceDisabledUser(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newService(t, db, newRing(t, newKey(t, "k1")), newClock())
		u, err := s.Register(ctx, "alice", password)
		if err != nil {
			t.Fatal(err)
		}
		res := login(t, s, "alice", password)
		if err := db.SetUserDisabled(ctx, u.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, res.Token); !errors.Is(err, auth.ErrSessionInvalid) {
			t.Errorf("Authenticate of a disabled user = %v, want ErrSessionInvalid", err)
		}
		if _, err := s.Login(ctx, "alice", password, "", "192.0.2.1"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Errorf("Login of a disabled user with the right password = %v, want ErrBadCredentials", err)
		}
	})
}

// TestServiceReplicas: two services on one database, as two replicas. A
// revocation on one is refused at once by the other's API (it reads the
// session row) and reaches the other's in-memory set at its next sync.
func TestServiceReplicas(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := newClock()
		ring := newRing(t, newKey(t, "k1"))
		a, b := newService(t, db, ring, clock), newService(t, db, ring, clock)
		if _, err := a.Register(ctx, "alice", password); err != nil {
			t.Fatal(err)
		}
		res := login(t, a, "alice", password)
		who, err := b.Authenticate(ctx, res.Token)
		if err != nil {
			t.Fatalf("the other replica refuses a live token: %v", err)
		}
		clock.Advance(time.Second)
		if err := a.Revoke(ctx, who.UserID, who.SessionID); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Authenticate(ctx, res.Token); !errors.Is(err, auth.ErrSessionInvalid) {
			t.Errorf("the other replica accepts a revoked session: %v", err)
		}
		if b.Revocations.Revoked(who.SessionID) {
			t.Fatalf("the other replica's set knew before syncing; the test proves nothing")
		}
		clock.Advance(time.Second)
		if err := b.Revocations.Sync(ctx, db); err != nil {
			t.Fatal(err)
		}
		if !b.Revocations.Revoked(who.SessionID) {
			t.Errorf("the other replica's set missed the revocation after a sync")
		}
	})
}

func TestLoginThrottled(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := newClock()
		s := newService(t, db, newRing(t, newKey(t, "k1")), clock)
		if _, err := s.Register(ctx, "alice", password); err != nil {
			t.Fatal(err)
		}
		burst := int(auth.DefaultUserRule().Burst)
		for i := range burst {
			// A different address each time: the account rule alone bites.
			if _, err := s.Login(ctx, "Alice", "wrong", "", "192.0.2."+strconv.Itoa(i+1)); !errors.Is(err, auth.ErrBadCredentials) {
				t.Fatalf("failure %d: %v", i+1, err)
			}
		}
		var te *auth.ThrottledError
		if _, err := s.Login(ctx, "alice", password, "", "198.51.100.1"); !errors.As(err, &te) {
			t.Fatalf("Login after %d failures = %v, want *ThrottledError", burst, err)
		}
		clock.Advance(te.RetryAfter)
		login(t, s, "alice", password)

		// The address rule: many accounts from one address.
		ipBurst := int(auth.DefaultIPRule().Burst)
		for i := range ipBurst {
			_, err := s.Login(ctx, "user"+strconv.Itoa(i), "wrong", "", "203.0.113.9")
			if !errors.Is(err, auth.ErrBadCredentials) {
				t.Fatalf("address failure %d: %v", i+1, err)
			}
		}
		if _, err := s.Login(ctx, "alice", password, "", "203.0.113.9"); !errors.As(err, &te) {
			t.Errorf("Login from a throttled address = %v, want *ThrottledError", err)
		}
		login(t, s, "alice", password) // from another address
	})
}

// TestChangePasswordThrottled: a wrong current password counts as a failed
// login, so a stolen access token cannot guess the password at speed.
func TestChangePasswordThrottled(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := newClock()
		s := newService(t, db, newRing(t, newKey(t, "k1")), clock)
		if _, err := s.Register(ctx, "alice", password); err != nil {
			t.Fatal(err)
		}
		who, err := s.Authenticate(ctx, login(t, s, "alice", password).Token)
		if err != nil {
			t.Fatal(err)
		}
		for i := range int(auth.DefaultUserRule().Burst) {
			if err := s.ChangePassword(ctx, who, "guess"+strconv.Itoa(i), "new password 1"); !errors.Is(err, auth.ErrBadCredentials) {
				t.Fatalf("guess %d: %v", i+1, err)
			}
		}
		var te *auth.ThrottledError
		if err := s.ChangePassword(ctx, who, password, "new password 1"); !errors.As(err, &te) {
			t.Fatalf("ChangePassword after the burst = %v, want *ThrottledError", err)
		}
		if _, err := s.Login(ctx, "alice", password, "", "192.0.2.1"); !errors.As(err, &te) {
			t.Errorf("Login after the guesses = %v, want *ThrottledError: one budget per account", err)
		}
		clock.Advance(te.RetryAfter)
		if err := s.ChangePassword(ctx, who, password, "new password 1"); err != nil {
			t.Errorf("ChangePassword once the throttle lifted: %v", err)
		}
	})
}
