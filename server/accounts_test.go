package server_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRegister(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)

		var u struct {
			ID        int64     `json:"id"`
			Username  string    `json:"username"`
			CreatedAt time.Time `json:"created_at"`
		}
		e.do(t, http.MethodPost, "/api/register", "", map[string]string{"username": "Alice", "password": testPassword}).
			want(t, http.StatusCreated).decode(t, &u)
		if u.ID <= 0 || u.Username != "Alice" || !u.CreatedAt.Equal(t0) {
			t.Errorf("register gave %+v, want a positive id, username Alice, created_at %s", u, t0)
		}

		// A name is taken in every letter case.
		for _, name := range []string{"Alice", "alice", "ALICE"} {
			r := e.do(t, http.MethodPost, "/api/register", "", map[string]string{"username": name, "password": testPassword}).want(t, http.StatusConflict)
			if msg := r.errMsg(t); !strings.Contains(msg, "already taken") {
				t.Errorf("register %q: error %q, want it to say the name is taken", name, msg)
			}
		}

		long := strings.Repeat("a", 73)
		for _, tc := range []struct {
			name, username, password, want string
		}{
			{"username too short", "ab", testPassword, "username must be 3 to 64 characters"},
			{"username empty", "", testPassword, "username must be 3 to 64 characters"},
			{"username too long", strings.Repeat("b", 65), testPassword, "username must be 3 to 64 characters"},
			{"username with space", "bob smith", testPassword, "letters, digits"},
			{"username with slash", "bob/smith", testPassword, "letters, digits"},
			{"username with at sign", "bob@example.com", testPassword, "letters, digits"},
			{"username non-ASCII", "bøb", testPassword, "letters, digits"},
			{"password too short", "bob", "1234567", "at least 8 bytes"},
			{"password empty", "bob", "", "at least 8 bytes"},
			{"password over 72 bytes", "bob", long, "at most 72 bytes"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do(t, http.MethodPost, "/api/register", "", map[string]string{"username": tc.username, "password": tc.password}).want(t, http.StatusBadRequest)
				if msg := r.errMsg(t); !strings.Contains(msg, tc.want) {
					t.Errorf("error %q, want it to contain %q", msg, tc.want)
				}
			})
		}

		// The limits themselves are allowed.
		for _, tc := range []struct{ username, password string }{
			{"bob", strings.Repeat("p", 8)},
			{strings.Repeat("c", 64), strings.Repeat("p", 72)},
			{"a.b_c-D9", testPassword},
		} {
			e.register(t, tc.username, tc.password)
		}
	})
}

func TestRegisterClosed(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine, "-registration=closed")
		r := e.do(t, http.MethodPost, "/api/register", "", map[string]string{"username": "alice", "password": testPassword}).want(t, http.StatusForbidden)
		if msg := r.errMsg(t); !strings.Contains(msg, "registration is closed") {
			t.Errorf("error %q, want it to say registration is closed", msg)
		}
	})
}

func TestLogin(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		e.register(t, "alice", testPassword)

		res := e.login(t, "alice", testPassword)
		if want := t0.Add(e.cfg.SessionTTL); !res.ExpiresAt.Equal(want) {
			t.Errorf("expires_at %s, want %s", res.ExpiresAt, want)
		}
		if strings.Count(res.Token, ".") != 2 {
			t.Errorf("token %q is not a compact JWS", res.Token)
		}
		e.do(t, http.MethodGet, "/api/sessions", res.Token, nil).want(t, http.StatusOK)
		// Login ignores the case of the name, as registration does.
		e.login(t, "ALICE", testPassword)

		// Unknown user and wrong password are indistinguishable.
		unknown := e.do(t, http.MethodPost, "/api/login", "", map[string]string{"username": "nobody", "password": testPassword}).want(t, http.StatusUnauthorized)
		wrong := e.do(t, http.MethodPost, "/api/login", "", map[string]string{"username": "alice", "password": "wrong password"}).want(t, http.StatusUnauthorized)
		if string(unknown.Body) != string(wrong.Body) {
			t.Errorf("unknown user body %s differs from wrong password body %s", unknown.Body, wrong.Body)
		}
		// So is a name too long to exist.
		tooLong := e.do(t, http.MethodPost, "/api/login", "", map[string]string{"username": strings.Repeat("x", 65), "password": testPassword}).want(t, http.StatusUnauthorized)
		if string(tooLong.Body) != string(wrong.Body) {
			t.Errorf("over-long name body %s differs from wrong password body %s", tooLong.Body, wrong.Body)
		}

		r := e.do(t, http.MethodPost, "/api/login", "", map[string]string{"username": "alice"}).want(t, http.StatusBadRequest)
		if msg := r.errMsg(t); !strings.Contains(msg, "required") {
			t.Errorf("login without password: error %q, want it to say what is required", msg)
		}
	})
}

func TestLoginThrottle(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		e.register(t, "alice", testPassword)
		bad := map[string]string{"username": "alice", "password": "wrong password"}

		// The default rule allows 5 failures at once, then one per 30 s.
		for i := range 5 {
			if r := e.do(t, http.MethodPost, "/api/login", "", bad); r.Status != http.StatusUnauthorized {
				t.Fatalf("failure %d: status %d, want 401", i+1, r.Status)
			}
		}
		// Throttled: even the right password, and in another letter case.
		for _, creds := range []map[string]string{bad, {"username": "ALICE", "password": testPassword}} {
			r := e.do(t, http.MethodPost, "/api/login", "", creds).want(t, http.StatusTooManyRequests)
			if got := r.Header.Get("Retry-After"); got != "30" {
				t.Errorf("Retry-After %q, want 30", got)
			}
		}
		// Another user is not affected.
		e.register(t, "bob", testPassword)
		e.login(t, "bob", testPassword)

		e.clock.Advance(29 * time.Second)
		r := e.do(t, http.MethodPost, "/api/login", "", bad).want(t, http.StatusTooManyRequests)
		if got := r.Header.Get("Retry-After"); got != "1" {
			t.Errorf("after 29 s: Retry-After %q, want 1", got)
		}
		e.clock.Advance(time.Second)
		e.login(t, "alice", testPassword)

		// A success forgets the failures: 5 more are allowed at once.
		for i := range 5 {
			if r := e.do(t, http.MethodPost, "/api/login", "", bad); r.Status != http.StatusUnauthorized {
				t.Fatalf("failure %d after success: status %d, want 401", i+1, r.Status)
			}
		}
		e.do(t, http.MethodPost, "/api/login", "", bad).want(t, http.StatusTooManyRequests)
	})
}

// sessionOut is a session as GET /api/sessions returns it.
type sessionOut struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UserAgent string    `json:"user_agent"`
	IP        string    `json:"ip"`
	Current   bool      `json:"current"`
}

func (e *testEnv) sessions(tb testing.TB, token string) []sessionOut {
	tb.Helper()
	var out struct {
		Sessions []sessionOut `json:"sessions"`
	}
	e.do(tb, http.MethodGet, "/api/sessions", token, nil).want(tb, http.StatusOK).decode(tb, &out)
	return out.Sessions
}

// currentSession returns the id of the token's own session.
func (e *testEnv) currentSession(tb testing.TB, token string) string {
	tb.Helper()
	id := ""
	for _, s := range e.sessions(tb, token) {
		if s.Current {
			if id != "" {
				tb.Fatalf("two sessions marked current")
			}
			id = s.ID
		}
	}
	if id == "" {
		tb.Fatalf("no session marked current")
	}
	return id
}

func TestLogout(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		tok := e.user(t, "alice")
		other := e.login(t, "alice", testPassword).Token

		e.do(t, http.MethodPost, "/api/logout", tok, nil).want(t, http.StatusNoContent)
		r := e.do(t, http.MethodGet, "/api/streams", tok, nil).want(t, http.StatusUnauthorized)
		if got := r.Header.Get("WWW-Authenticate"); !strings.Contains(got, "invalid_token") {
			t.Errorf("WWW-Authenticate %q, want invalid_token", got)
		}
		e.do(t, http.MethodPost, "/api/logout", tok, nil).want(t, http.StatusUnauthorized)
		// Only that session ended.
		e.do(t, http.MethodGet, "/api/streams", other, nil).want(t, http.StatusOK)
		if n := len(e.sessions(t, other)); n != 1 {
			t.Errorf("%d live sessions after logout, want 1", n)
		}
	})
}

func TestSessions(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		a1 := e.user(t, "alice")
		e.clock.Advance(time.Minute)
		req := e.newRequest(t, http.MethodPost, "/api/login", map[string]string{"username": "alice", "password": testPassword})
		req.Header.Set("User-Agent", "second-device/1.0")
		var second loginResult
		e.send(t, req).want(t, http.StatusOK).decode(t, &second)
		a2 := second.Token
		b := e.user(t, "bob")

		list := e.sessions(t, a2)
		if len(list) != 2 {
			t.Fatalf("%d sessions, want 2: %+v", len(list), list)
		}
		var cur sessionOut
		for _, s := range list {
			if len(s.ID) != 32 || s.IP != "127.0.0.1" || !s.ExpiresAt.Equal(s.CreatedAt.Add(e.cfg.SessionTTL)) {
				t.Errorf("session %+v: want a 32-character id, ip 127.0.0.1 and expiry created_at+%s", s, e.cfg.SessionTTL)
			}
			if s.Current {
				cur = s
			}
		}
		if cur.UserAgent != "second-device/1.0" || !cur.CreatedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("current session %+v, want the second login", cur)
		}
		a1ID := e.currentSession(t, a1)
		if a1ID == cur.ID {
			t.Fatalf("both tokens report session %s as current", a1ID)
		}
		bID := e.currentSession(t, b)

		// Another user's session id, a well-formed unknown id and garbage
		// are all "no such session".
		for _, id := range []string{bID, strings.Repeat("0", 32), "garbage", bID + "00"} {
			e.do(t, http.MethodDelete, "/api/sessions/"+id, a2, nil).want(t, http.StatusNotFound)
		}
		e.do(t, http.MethodGet, "/api/streams", b, nil).want(t, http.StatusOK)

		e.do(t, http.MethodDelete, "/api/sessions/"+a1ID, a2, nil).want(t, http.StatusNoContent)
		e.do(t, http.MethodGet, "/api/streams", a1, nil).want(t, http.StatusUnauthorized)
		e.do(t, http.MethodGet, "/api/streams", a2, nil).want(t, http.StatusOK)
		if list := e.sessions(t, a2); len(list) != 1 || list[0].ID != cur.ID {
			t.Errorf("sessions after revoking one: %+v, want only %s", list, cur.ID)
		}
	})
}

func TestLogoutAll(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		a1 := e.user(t, "alice")
		a2 := e.login(t, "alice", testPassword).Token
		b := e.user(t, "bob")

		var out struct {
			Revoked int64 `json:"revoked"`
		}
		e.do(t, http.MethodPost, "/api/logout-all", a1, nil).want(t, http.StatusOK).decode(t, &out)
		if out.Revoked != 2 {
			t.Errorf("revoked %d, want 2", out.Revoked)
		}
		for _, tok := range []string{a1, a2} {
			e.do(t, http.MethodGet, "/api/streams", tok, nil).want(t, http.StatusUnauthorized)
		}
		e.do(t, http.MethodGet, "/api/streams", b, nil).want(t, http.StatusOK)
		// Logging in again works.
		e.login(t, "alice", testPassword)
	})
}

func TestChangePassword(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		caller := e.user(t, "alice")
		other := e.login(t, "alice", testPassword).Token
		b := e.user(t, "bob")
		const newPassword = "a much better passphrase"

		r := e.do(t, http.MethodPost, "/api/password", caller, map[string]string{"current_password": "not the password", "new_password": newPassword}).want(t, http.StatusForbidden)
		if msg := r.errMsg(t); !strings.Contains(msg, "current_password") {
			t.Errorf("error %q, want it to name current_password", msg)
		}
		r = e.do(t, http.MethodPost, "/api/password", caller, map[string]string{"current_password": testPassword, "new_password": "short"}).want(t, http.StatusBadRequest)
		if msg := r.errMsg(t); !strings.Contains(msg, "new_password") || !strings.Contains(msg, "at least 8") {
			t.Errorf("error %q, want it to say new_password is too short", msg)
		}
		// Failed attempts changed nothing.
		e.do(t, http.MethodGet, "/api/streams", other, nil).want(t, http.StatusOK)

		e.do(t, http.MethodPost, "/api/password", caller, map[string]string{"current_password": testPassword, "new_password": newPassword}).want(t, http.StatusNoContent)
		e.do(t, http.MethodGet, "/api/streams", caller, nil).want(t, http.StatusOK)
		e.do(t, http.MethodGet, "/api/streams", other, nil).want(t, http.StatusUnauthorized)
		e.do(t, http.MethodGet, "/api/streams", b, nil).want(t, http.StatusOK)
		if n := len(e.sessions(t, caller)); n != 1 {
			t.Errorf("%d live sessions after the change, want 1", n)
		}

		e.do(t, http.MethodPost, "/api/login", "", map[string]string{"username": "alice", "password": testPassword}).want(t, http.StatusUnauthorized)
		e.login(t, "alice", newPassword)
		e.login(t, "bob", testPassword)
	})
}

func TestChangePasswordThrottled(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		tok := e.user(t, "alice")
		for i := range 5 {
			body := map[string]string{"current_password": "guess number " + strconv.Itoa(i), "new_password": "a much better passphrase"}
			e.do(t, http.MethodPost, "/api/password", tok, body).want(t, http.StatusForbidden)
		}
		r := e.do(t, http.MethodPost, "/api/password", tok, map[string]string{"current_password": testPassword, "new_password": "a much better passphrase"}).want(t, http.StatusTooManyRequests)
		if got := r.Header.Get("Retry-After"); got != "30" {
			t.Errorf("Retry-After %q, want 30", got)
		}
		e.clock.Advance(30 * time.Second)
		e.do(t, http.MethodPost, "/api/password", tok, map[string]string{"current_password": testPassword, "new_password": "a much better passphrase"}).want(t, http.StatusNoContent)
	})
}

func TestSessionLimit(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		t.Run("reject-new", func(t *testing.T) {
			e := newEnv(t, engine, "-max-sessions-per-user=2")
			first := e.user(t, "alice")
			e.login(t, "alice", testPassword)
			r := e.do(t, http.MethodPost, "/api/login", "", map[string]string{"username": "alice", "password": testPassword}).want(t, http.StatusForbidden)
			if msg := r.errMsg(t); !strings.Contains(msg, "session limit") {
				t.Errorf("error %q, want it to name the session limit", msg)
			}
			// Another user has a budget of their own; logging out frees a slot.
			e.user(t, "bob")
			e.do(t, http.MethodPost, "/api/logout", first, nil).want(t, http.StatusNoContent)
			e.login(t, "alice", testPassword)
		})
		t.Run("evict-oldest", func(t *testing.T) {
			e := newEnv(t, engine, "-max-sessions-per-user=2", "-session-limit-policy=evict-oldest")
			oldest := e.user(t, "alice")
			e.clock.Advance(time.Second)
			middle := e.login(t, "alice", testPassword).Token
			e.clock.Advance(time.Second)
			newest := e.login(t, "alice", testPassword).Token
			e.do(t, http.MethodGet, "/api/streams", oldest, nil).want(t, http.StatusUnauthorized)
			e.do(t, http.MethodGet, "/api/streams", middle, nil).want(t, http.StatusOK)
			e.do(t, http.MethodGet, "/api/streams", newest, nil).want(t, http.StatusOK)
			if n := len(e.sessions(t, newest)); n != 2 {
				t.Errorf("%d live sessions, want 2", n)
			}
		})
	})
}
