package store_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/server/store"
)

func TestSessionRoundTrip(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		alice := mustUser(t, db, "alice")
		live := store.Session{ID: sessionID(1), UserID: alice.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), UserAgent: "Mozilla/5.0", IP: "2001:db8::1"}
		revoked := store.Session{ID: sessionID(2), UserID: alice.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), RevokedAt: ptr(t0.Add(time.Minute))}
		for _, s := range []store.Session{live, revoked} {
			if err := db.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
			got, err := db.SessionByID(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, s) {
				t.Errorf("SessionByID(%s) = %+v, want %+v", s.ID, got, s)
			}
		}

		tests := []struct {
			name    string
			s       store.Session
			wantErr error // nil: any non-nil error
		}{
			{"duplicate id", store.Session{ID: live.ID, UserID: alice.ID, CreatedAt: t0, ExpiresAt: t0}, store.ErrConflict},
			{"empty id", store.Session{ID: "", UserID: alice.ID}, nil},
			{"upper-case id", store.Session{ID: strings.ToUpper("abcdef" + sessionID(3)[6:]), UserID: alice.ID}, nil},
			{"short id", store.Session{ID: sessionID(3)[1:], UserID: alice.ID}, nil},
			{"non-hex id", store.Session{ID: "g" + sessionID(3)[1:], UserID: alice.ID}, nil},
			{"missing user", store.Session{ID: sessionID(4), UserID: 1 << 40}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := db.CreateSession(ctx, tt.s)
				if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
					t.Fatalf("CreateSession error = %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr == nil && errors.Is(err, store.ErrConflict) {
					t.Fatalf("CreateSession error = %v, must not be ErrConflict", err)
				}
			})
		}
		if _, err := db.SessionByID(ctx, sessionID(99)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SessionByID(missing) error = %v, want ErrNotFound", err)
		}
	})
}

func ids(ss []store.Session) []string {
	out := []string{}
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

func TestLiveSessions(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		alice := mustUser(t, db, "alice")
		bob := mustUser(t, db, "bob")
		now := t0.Add(time.Hour)
		for _, s := range []store.Session{
			{ID: sessionID(1), UserID: alice.ID, CreatedAt: t0, ExpiresAt: now.Add(time.Hour)},                                      // live, older
			{ID: sessionID(2), UserID: alice.ID, CreatedAt: t0.Add(time.Minute), ExpiresAt: now.Add(time.Hour)},                     // live, newer
			{ID: sessionID(3), UserID: alice.ID, CreatedAt: t0.Add(2 * time.Minute), ExpiresAt: now},                                // expired exactly now
			{ID: sessionID(4), UserID: alice.ID, CreatedAt: t0.Add(3 * time.Minute), ExpiresAt: now.Add(time.Hour), RevokedAt: &t0}, // revoked
			{ID: sessionID(5), UserID: bob.ID, CreatedAt: t0.Add(4 * time.Minute), ExpiresAt: now.Add(time.Hour)},                   // bob's
		} {
			if err := db.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
		}

		tests := []struct {
			name string
			call func() ([]store.Session, error)
			want []string
		}{
			{"list alice", func() ([]store.Session, error) { return db.ListLiveSessions(ctx, alice.ID, now) }, []string{sessionID(2), sessionID(1)}},
			{"list alice earlier", func() ([]store.Session, error) { return db.ListLiveSessions(ctx, alice.ID, now.Add(-time.Millisecond)) }, []string{sessionID(3), sessionID(2), sessionID(1)}},
			{"list bob", func() ([]store.Session, error) { return db.ListLiveSessions(ctx, bob.ID, now) }, []string{sessionID(5)}},
			{"list nobody", func() ([]store.Session, error) { return db.ListLiveSessions(ctx, 1<<40, now) }, []string{}},
			{"oldest 1", func() ([]store.Session, error) { return db.OldestLiveSessions(ctx, alice.ID, now, 1) }, []string{sessionID(1)}},
			{"oldest 10", func() ([]store.Session, error) { return db.OldestLiveSessions(ctx, alice.ID, now, 10) }, []string{sessionID(1), sessionID(2)}},
			{"oldest 0", func() ([]store.Session, error) { return db.OldestLiveSessions(ctx, alice.ID, now, 0) }, []string{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := tt.call()
				if err != nil {
					t.Fatal(err)
				}
				if got == nil {
					t.Errorf("got a nil slice, want an empty one")
				}
				if !reflect.DeepEqual(ids(got), tt.want) {
					t.Errorf("got %v, want %v", ids(got), tt.want)
				}
			})
		}

		for _, tt := range []struct {
			user int64
			now  time.Time
			want int
		}{{alice.ID, now, 2}, {alice.ID, now.Add(-time.Millisecond), 3}, {bob.ID, now, 1}, {alice.ID, now.Add(2 * time.Hour), 0}} {
			if n, err := db.CountLiveSessions(ctx, tt.user, tt.now); err != nil || n != tt.want {
				t.Errorf("CountLiveSessions(%d, %v) = %d, %v; want %d", tt.user, tt.now, n, err, tt.want)
			}
		}
	})
}

func TestRevokeSession(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		alice := mustUser(t, db, "alice")
		bob := mustUser(t, db, "bob")
		now := t0.Add(time.Hour)
		for _, s := range []store.Session{
			{ID: sessionID(1), UserID: alice.ID, CreatedAt: t0, ExpiresAt: now.Add(time.Hour)},
			{ID: sessionID(2), UserID: alice.ID, CreatedAt: t0, ExpiresAt: now}, // expired
			{ID: sessionID(3), UserID: bob.ID, CreatedAt: t0, ExpiresAt: now.Add(time.Hour)},
		} {
			if err := db.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
		}

		tests := []struct {
			name    string
			user    int64
			id      string
			wantErr error
		}{
			{"own live", alice.ID, sessionID(1), nil},
			{"again", alice.ID, sessionID(1), store.ErrNotFound},
			{"own expired", alice.ID, sessionID(2), store.ErrNotFound},
			{"another user's", alice.ID, sessionID(3), store.ErrNotFound},
			{"missing", alice.ID, sessionID(9), store.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := db.RevokeSession(ctx, tt.user, tt.id, now); !errors.Is(err, tt.wantErr) {
					t.Fatalf("RevokeSession error = %v, want %v", err, tt.wantErr)
				}
			})
		}

		got, err := db.SessionByID(ctx, sessionID(1))
		if err != nil {
			t.Fatal(err)
		}
		if got.RevokedAt == nil || !got.RevokedAt.Equal(now) {
			t.Errorf("revoked session RevokedAt = %v, want %v", got.RevokedAt, now)
		}
		for _, id := range []string{sessionID(2), sessionID(3)} {
			if s, _ := db.SessionByID(ctx, id); s.RevokedAt != nil {
				t.Errorf("session %s was revoked by a refused call", id)
			}
		}
	})
}

func TestRevokeUserSessions(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		alice := mustUser(t, db, "alice")
		bob := mustUser(t, db, "bob")
		now := t0.Add(time.Hour)
		for i, uid := range []int64{alice.ID, alice.ID, alice.ID, bob.ID} {
			s := store.Session{ID: sessionID(i + 1), UserID: uid, CreatedAt: t0.Add(time.Duration(i) * time.Minute), ExpiresAt: now.Add(time.Hour)}
			if err := db.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		expired := store.Session{ID: sessionID(9), UserID: alice.ID, CreatedAt: t0, ExpiresAt: now}
		if err := db.CreateSession(ctx, expired); err != nil {
			t.Fatal(err)
		}

		steps := []struct {
			name      string
			exceptID  string
			wantN     int64
			wantAlice []string
		}{
			{"all but the current one", sessionID(1), 2, []string{sessionID(1)}},
			{"all", "", 1, []string{}},
			{"nothing left", "", 0, []string{}},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				n, err := db.RevokeUserSessions(ctx, alice.ID, st.exceptID, now)
				if err != nil || n != st.wantN {
					t.Fatalf("RevokeUserSessions = %d, %v; want %d", n, err, st.wantN)
				}
				live, err := db.ListLiveSessions(ctx, alice.ID, now)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(ids(live), st.wantAlice) {
					t.Errorf("alice's live sessions = %v, want %v", ids(live), st.wantAlice)
				}
			})
		}
		if n, err := db.CountLiveSessions(ctx, bob.ID, now); err != nil || n != 1 {
			t.Errorf("bob's live sessions = %d, %v; want 1 (untouched)", n, err)
		}
		if s, _ := db.SessionByID(ctx, expired.ID); s.RevokedAt != nil {
			t.Errorf("expired session was revoked")
		}
	})
}

func TestRevokedSince(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		alice := mustUser(t, db, "alice")
		t1, t2, t3 := t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(3*time.Minute)
		now := t0.Add(10 * time.Minute)
		later := now.Add(time.Hour)
		for _, s := range []store.Session{
			{ID: sessionID(1), UserID: alice.ID, CreatedAt: t0, ExpiresAt: later, RevokedAt: &t1},
			{ID: sessionID(2), UserID: alice.ID, CreatedAt: t0, ExpiresAt: later, RevokedAt: &t2},
			{ID: sessionID(3), UserID: alice.ID, CreatedAt: t0, ExpiresAt: later, RevokedAt: &t3},
			{ID: sessionID(4), UserID: alice.ID, CreatedAt: t0, ExpiresAt: now, RevokedAt: &t2}, // revoked, but expired by now
			{ID: sessionID(5), UserID: alice.ID, CreatedAt: t0, ExpiresAt: later},               // never revoked
		} {
			if err := db.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
		}

		tests := []struct {
			name  string
			since time.Time
			want  []store.Revocation
		}{
			{"from the start", t0, []store.Revocation{
				{SessionID: sessionID(1), ExpiresAt: later, RevokedAt: t1},
				{SessionID: sessionID(2), ExpiresAt: later, RevokedAt: t2},
				{SessionID: sessionID(3), ExpiresAt: later, RevokedAt: t3},
			}},
			{"since is inclusive", t2, []store.Revocation{
				{SessionID: sessionID(2), ExpiresAt: later, RevokedAt: t2},
				{SessionID: sessionID(3), ExpiresAt: later, RevokedAt: t3},
			}},
			{"one millisecond later", t2.Add(time.Millisecond), []store.Revocation{
				{SessionID: sessionID(3), ExpiresAt: later, RevokedAt: t3},
			}},
			{"after the last", t3.Add(time.Millisecond), []store.Revocation{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := db.RevokedSince(ctx, tt.since, now)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("RevokedSince(%v) = %+v, want %+v", tt.since, got, tt.want)
				}
			})
		}
	})
}

// TestRevokedSinceUsesIndex checks that the revocation feed, polled often,
// reads the revoked_at index instead of scanning every session.
func TestRevokedSinceUsesIndex(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		plan, err := db.ExplainRevokedSince(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, "sessions_revoked_at") {
			t.Errorf("plan does not use sessions_revoked_at:\n%s", plan)
		}
		t.Logf("plan:\n%s", plan)
		if strings.Contains(plan, "SCAN sessions") || strings.Contains(plan, "Seq Scan") {
			t.Errorf("plan scans the table:\n%s", plan)
		}
	})
}

func TestCreateSessionWithin(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		now := t0.Add(time.Minute)
		newSession := func(u store.User, n int, created time.Time) store.Session {
			return store.Session{ID: sessionID(n), UserID: u.ID, CreatedAt: created, ExpiresAt: t0.Add(time.Hour)}
		}
		live := func(u store.User) []string {
			ss, err := db.ListLiveSessions(ctx, u.ID, now)
			if err != nil {
				t.Fatal(err)
			}
			return ids(ss)
		}

		rita := mustUser(t, db, "rita")
		capReject := store.SessionCap{Max: 2}
		for i := 1; i <= 2; i++ {
			if ev, err := db.CreateSessionWithin(ctx, newSession(rita, i, t0.Add(time.Duration(i)*time.Second)), capReject, now); err != nil || len(ev) != 0 {
				t.Fatalf("session %d under the cap: evicted %v, %v", i, ev, err)
			}
		}
		if _, err := db.CreateSessionWithin(ctx, newSession(rita, 3, now), capReject, now); !errors.Is(err, store.ErrSessionLimit) {
			t.Fatalf("third session: %v, want ErrSessionLimit", err)
		}
		if got, want := live(rita), []string{sessionID(2), sessionID(1)}; !reflect.DeepEqual(got, want) {
			t.Errorf("after the refusal: live %v, want %v (nothing added, nothing revoked)", got, want)
		}

		eve := mustUser(t, db, "eve")
		capEvict := store.SessionCap{Max: 2, EvictOldest: true}
		for i := 11; i <= 13; i++ {
			if _, err := db.CreateSessionWithin(ctx, newSession(eve, i, t0.Add(time.Duration(i)*time.Second)), capEvict, now); err != nil {
				t.Fatalf("session %d: %v", i, err)
			}
		}
		ev, err := db.CreateSessionWithin(ctx, newSession(eve, 14, now), capEvict, now)
		if err != nil || !reflect.DeepEqual(ids(ev), []string{sessionID(12)}) {
			t.Fatalf("fourth session evicted %v, %v; want the oldest live one, %s", ids(ev), err, sessionID(12))
		}
		if got, want := live(eve), []string{sessionID(14), sessionID(13)}; !reflect.DeepEqual(got, want) {
			t.Errorf("after eviction: live %v, want %v", got, want)
		}
		if s, _ := db.SessionByID(ctx, sessionID(12)); s.RevokedAt == nil || !s.RevokedAt.Equal(now) {
			t.Errorf("evicted session revoked at %v, want %v (the revocation sync reads it)", s.RevokedAt, now)
		}

		// No cap: a plain insert; a bad id is refused either way.
		if _, err := db.CreateSessionWithin(ctx, newSession(rita, 21, now), store.SessionCap{}, now); err != nil {
			t.Errorf("uncapped: %v", err)
		}
		if _, err := db.CreateSessionWithin(ctx, store.Session{ID: "nope", UserID: eve.ID}, capEvict, now); err == nil {
			t.Error("a malformed session id was accepted")
		}
		if _, err := db.CreateSessionWithin(ctx, newSession(store.User{ID: 1 << 40}, 22, now), capEvict, now); err == nil {
			t.Error("a session for a user that does not exist was accepted")
		}
	})
}

// TestCreateSessionWithinConcurrent: logins of one user at the same
// instant cannot together pass the cap, on either engine.
func TestCreateSessionWithinConcurrent(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		const logins, max = 12, 2
		for _, evict := range []bool{false, true} {
			u := mustUser(t, db, fmt.Sprintf("racer-%v", evict))
			now := t0.Add(time.Minute)
			var wg sync.WaitGroup
			errs := make([]error, logins)
			start := make(chan struct{})
			for i := range logins {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					s := store.Session{ID: sessionID(1000*int(u.ID) + i), UserID: u.ID, CreatedAt: t0.Add(time.Duration(i) * time.Millisecond), ExpiresAt: t0.Add(time.Hour)}
					_, errs[i] = db.CreateSessionWithin(t.Context(), s, store.SessionCap{Max: max, EvictOldest: evict}, now)
				}()
			}
			close(start)
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, store.ErrSessionLimit) && !evict:
				default:
					t.Errorf("evict=%v: unexpected error %v", evict, err)
				}
			}
			n, err := db.CountLiveSessions(t.Context(), u.ID, now)
			if err != nil {
				t.Fatal(err)
			}
			wantOK := max
			if evict {
				wantOK = logins
			}
			if ok != wantOK || n != max {
				t.Errorf("evict=%v: %d of %d logins succeeded and %d sessions are live; want %d and %d", evict, ok, logins, n, wantOK, max)
			}
		}
	})
}
