package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/server/store/storetest"
)

// TestTwoReplicasShareTokensAndLogout runs two replicas on one database:
// a playback URL minted by the first plays on the second, and a logout on
// the first is refused by the second within 2 seconds.
func TestTwoReplicasShareTokensAndLogout(t *testing.T) {
	for _, engine := range storetest.Engines(t) {
		t.Run(engine, func(t *testing.T) {
			dsn := storetest.DSN(t, engine)
			keys := testKeys(t)
			a := startGate(t, dsn, keys)
			b := startGate(t, dsn, keys)

			origin := newPlaylistOrigin(t)
			alice := signUp(t, a, "alice", "Player/1")
			id := alice.addStream(origin.URL + "/live/index.m3u8")
			pb := alice.playback(id)

			for _, g := range []*gate{a, b} {
				st, body := alice.fetch(onGate(pb, g))
				if st != http.StatusOK || !strings.Contains(body, "/api/hls/") {
					t.Fatalf("playlist through %s: %d %q", g.http.URL, st, body)
				}
				// A rewritten segment URI works on the other replica too.
				seg := firstURI(body)
				other := b
				if g == b {
					other = a
				}
				if st, _ := alice.fetch(other.http.URL + seg); st != http.StatusOK {
					t.Fatalf("segment via the other replica: %d", st)
				}
			}

			if st := alice.call("POST", "/api/logout", nil, nil); st != http.StatusNoContent {
				t.Fatalf("logout: %d", st)
			}
			if st, _ := alice.fetch(onGate(pb, a)); st != http.StatusForbidden {
				t.Errorf("replica A after logout: %d, want 403 at once", st)
			}
			took, ok := waitFor(2*time.Second, func() bool {
				st, _ := alice.fetch(onGate(pb, b))
				return st == http.StatusForbidden
			})
			if !ok {
				t.Fatalf("replica B still plays %s after logout on A", took)
			}
			t.Logf("replica B refused the session %s after logout on A", took.Round(time.Millisecond))
			if strings.Contains(a.logs.String()+b.logs.String(), alice.token) {
				t.Error("an access token reached the logs")
			}
		})
	}
}

// firstURI returns the first URI line of a playlist.
func firstURI(p string) string {
	for _, l := range strings.Split(p, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return ""
}

// TestLoginThrottleAcrossReplicas: password guesses spread over two
// replicas count together, so the sixth is refused (429 with Retry-After)
// on both, though neither has seen more than three.
func TestLoginThrottleAcrossReplicas(t *testing.T) {
	for _, engine := range storetest.Engines(t) {
		t.Run(engine, func(t *testing.T) {
			dsn := storetest.DSN(t, engine)
			keys := testKeys(t)
			a := startGate(t, dsn, keys)
			b := startGate(t, dsn, keys)
			signUp(t, a, "target", "Player/1")
			login := func(g *gate, password string) (int, string) {
				t.Helper()
				body := `{"username":"target","password":"` + password + `"}`
				resp, err := http.Post(g.http.URL+"/api/login", "application/json", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode, resp.Header.Get("Retry-After")
			}
			for i := range 5 {
				g := []*gate{a, b}[i%2]
				if st, _ := login(g, "wrong-guess"); st != http.StatusUnauthorized {
					t.Fatalf("guess %d: %d, want 401", i+1, st)
				}
			}
			for name, g := range map[string]*gate{"a": a, "b": b} {
				st, retry := login(g, "password-target")
				if st != http.StatusTooManyRequests || retry == "" || retry == "0" {
					t.Errorf("replica %s after 5 failures over both: %d, Retry-After %q; want 429 with a wait", name, st, retry)
				}
			}
		})
	}
}
