package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/internal/hlstest"
	"github.com/hlsgate/hlsgate/server/store"
	"github.com/hlsgate/hlsgate/server/store/storetest"
)

// What the issue promises, and the bounds the test holds the fleet to.
const (
	// propagationBound: a logout or a stream URL change made on one
	// replica is in force on all of them within this.
	propagationBound = 2 * time.Second
	// outage is how long the database is unreachable.
	outage = 10 * time.Second
	// recoveryBound: after the database is back, the API answers 200 on
	// every replica within this.
	recoveryBound = 15 * time.Second
	// apiTimeout bounds each API call: a call that hangs during the outage
	// is a failure, not a wait.
	apiTimeout = 5 * time.Second
	// pollEvery is how often propagation is polled, i.e. the resolution of
	// the figures the test logs.
	pollEvery = 20 * time.Millisecond
	// playFor is how long each playback phase lasts.
	playFor = 3 * time.Second
	// minOutageSegments is the fewest segments the viewer must fetch
	// during the outage (the live stream makes one a second) to show that
	// playback went on rather than stalled.
	minOutageSegments = 5
)

const (
	viewerUA = "FleetPlayer/1.0 (hlsgate fleet test)"
	username = "fleetviewer"
	password = "fleet-password-1"
)

// TestFleet is the integration test: three hlsgate processes on one
// PostgreSQL database in front of a ffmpeg live origin, one viewer spread
// round-robin over them, through a replica crash and restart, a 10 s
// database outage, a stream URL change and a logout.
func TestFleet(t *testing.T) {
	dsn := storetest.DSN(t, store.EnginePostgres) // skips (or fails in CI) without PostgreSQL
	live := hlstest.NewLive(t)                    // skips (or fails in CI) without ffmpeg
	bin := buildHlsgate(t)
	testStart := time.Now()

	fwd, db := forwardedDSN(t, dsn)
	rs := startFleet(t, 3, bin, replicaArgs(db), replicaEnv(newKeyRing(t)))
	t.Logf("replicas on %s, %s, %s; database through %s", rs[0].addr, rs[1].addr, rs[2].addr, fwd.addr())

	a := newAPI()
	cred := map[string]string{"username": username, "password": password}
	a.must(t, rs[0], "POST", "/api/register", "", cred, http.StatusCreated, nil)
	var login struct{ Token string }
	a.must(t, rs[1], "POST", "/api/login", "", cred, http.StatusOK, &login)
	var created struct{ ID int64 }
	a.must(t, rs[2], "POST", "/api/streams", login.Token, map[string]any{"name": "live", "url": live.URL}, http.StatusCreated, &created)
	var pb struct{ URL string }
	a.must(t, rs[0], "GET", fmt.Sprintf("/api/streams/%d/playback", created.ID), login.Token, nil, http.StatusOK, &pb)

	readyCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := live.WaitReady(readyCtx, hlstest.LiveListSize); err != nil {
		t.Fatal(err)
	}

	urls := make([]string, len(rs))
	for i, r := range rs {
		urls[i] = r.url()
	}
	v, err := newViewer(urls, pb.URL, viewerUA)
	if err != nil {
		t.Fatal(err)
	}
	playCtx, stopPlaying := context.WithCancel(context.Background())
	played := make(chan struct{})
	go func() { defer close(played); v.run(playCtx) }()
	stopViewer := func() { stopPlaying(); <-played }
	t.Cleanup(stopViewer)

	// Phase 1: steady playback.
	v.setPhase("steady")
	time.Sleep(playFor)

	// A stream URL change on one replica, while the viewer plays on.
	v.setPhase("url change")
	checkURLChange(t, a, rs, login.Token)

	// Phase 2: replica 2 crashes mid-playback and comes back on its port.
	v.setPhase("replica 2 down")
	killedAt := time.Now()
	if err := rs[1].kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(playFor)
	v.setPhase("replica 2 restarting")
	if err := rs[1].start(context.Background()); err != nil {
		t.Fatal(err)
	}
	backAt := time.Now()
	t.Logf("replica 2: killed, restarted and healthy again after %s", backAt.Sub(killedAt).Round(time.Millisecond))
	v.setPhase("replica 2 back")
	before := v.servedBy()[1]
	time.Sleep(playFor)
	if after := v.servedBy()[1]; after == before {
		t.Errorf("the restarted replica 2 served the viewer nothing in %s", playFor)
	}

	// Phase 3: the database is unreachable for 10 s.
	v.setPhase("database down")
	cutAt := time.Now()
	n := fwd.cut()
	t.Logf("database cut: %d open connections reset, new ones refused for %s", n, outage)
	checkUnavailable(t, a, rs, login.Token, cred, "at the start of the outage")
	later := outage * 7 / 10 // the pool has had time to retry and give up
	time.Sleep(time.Until(cutAt.Add(later)))
	checkUnavailable(t, a, rs, login.Token, cred, fmt.Sprint(later, " into the outage"))
	time.Sleep(time.Until(cutAt.Add(outage)))
	fwd.restore()
	restoredAt := time.Now()
	v.setPhase("database back")
	took := propagation(rs, restoredAt, recoveryBound, func(r *replica) (bool, string) {
		res, err := a.do(r, "GET", "/api/streams", login.Token, nil)
		if err != nil {
			return false, err.Error()
		}
		return res.status == http.StatusOK, fmt.Sprint(res.status)
	})
	report(t, "API answers 200 again after the database came back", took, recoveryBound)
	checkLogoutAfterRecovery(t, a, rs, cred, created.ID)
	time.Sleep(time.Until(restoredAt.Add(playFor)))

	// Phase 4: logout on replica 1 is refused by every replica within 2 s.
	stopViewer()
	checkLogout(t, a, rs, login.Token, v.playlist, v.lastSegment())

	// The viewer saw no error anywhere, and played in every phase.
	for _, e := range v.errors() {
		t.Errorf("viewer error: %s", e)
	}
	for _, p := range []string{"steady", "replica 2 down", "replica 2 back", "database down", "database back"} {
		segs, pls := v.counts(p)
		t.Logf("phase %-15q %3d segments, %3d playlists", p, segs, pls)
		want := 1
		if p == "database down" {
			want = minOutageSegments
		}
		if segs < want {
			t.Errorf("phase %q: the viewer fetched %d segments, want at least %d", p, segs, want)
		}
	}
	for _, c := range v.connErrors() {
		if c.replica != 1 || c.at.Before(killedAt) || c.at.After(backAt) {
			t.Errorf("replica %d did not answer the viewer at %s (replica 2 was down from %s to %s only): %v",
				c.replica+1, c.at.Sub(testStart).Round(time.Millisecond), killedAt.Sub(testStart).Round(time.Millisecond),
				backAt.Sub(testStart).Round(time.Millisecond), c.err)
		}
	}
	t.Logf("viewer: answers per replica %v, %d requests passed on from the dead replica", v.servedBy(), len(v.connErrors()))

	// Every replica stops gracefully, with no data race, panic or secret
	// in its log.
	for _, r := range rs {
		if err := r.stop(); err != nil {
			t.Errorf("%s: SIGTERM: want a clean exit, got %v", r.name, err)
		}
		logs := r.logs.String()
		for _, bad := range []string{"WARNING: DATA RACE", "panic", login.Token, password} {
			if strings.Contains(logs, bad) {
				t.Errorf("%s: the log contains %.40q", r.name, bad)
			}
		}
	}
	t.Logf("fleet test ran %s (after the build)", time.Since(testStart).Round(time.Millisecond))
}

// checkURLChange changes a stream's URL on replica 2 and checks that every
// replica serves the new origin's playlist through the same playback URL
// within propagationBound, twice over:
//
//   - idle: after the change nobody asks for the stream until the bound has
//     passed, and then the first request to each replica must get the new
//     origin. That is what the promise means for a replica the load
//     balancer happened not to use meanwhile.
//   - measured: after a change back, every replica is polled, and the time
//     each takes to serve the change is logged.
//
// Each replica has the old URL cached beforehand (the worst case).
func checkURLChange(t *testing.T, a *api, rs []*replica, token string) {
	t.Helper()
	origins := map[string]*httptest.Server{"origin-a": newTagOrigin(t, "origin-a"), "origin-b": newTagOrigin(t, "origin-b")}
	var st struct{ ID int64 }
	a.must(t, rs[0], "POST", "/api/streams", token, map[string]any{"name": "switch", "url": origins["origin-a"].URL + "/cam/index.m3u8"}, http.StatusCreated, &st)
	var pb struct{ URL string }
	a.must(t, rs[0], "GET", fmt.Sprintf("/api/streams/%d/playback", st.ID), token, nil, http.StatusOK, &pb)
	u, err := url.Parse(pb.URL)
	if err != nil {
		t.Fatal(err)
	}
	serves := func(r *replica, tag string) (bool, string) {
		status, body, err := a.get(r.url()+u.RequestURI(), viewerUA)
		if err != nil {
			return false, err.Error()
		}
		if status != http.StatusOK {
			return false, fmt.Sprintf("%d %.80q", status, body)
		}
		for t := range origins {
			if strings.Contains(body, t+"-seg0.ts") {
				return t == tag, "the playlist of " + t
			}
		}
		return false, fmt.Sprintf("a playlist from neither origin: %.200q", body)
	}
	change := func(tag string) time.Time {
		t.Helper()
		a.must(t, rs[1], "PUT", fmt.Sprintf("/api/streams/%d", st.ID), token, map[string]any{"name": "switch", "url": origins[tag].URL + "/cam/index.m3u8"}, http.StatusOK, nil)
		return time.Now()
	}

	for _, r := range rs {
		if ok, last := serves(r, "origin-a"); !ok {
			t.Fatalf("%s before the change: %s", r.name, last)
		}
	}
	changed := change("origin-b")
	time.Sleep(time.Until(changed.Add(propagationBound)))
	for _, r := range rs {
		if ok, last := serves(r, "origin-b"); !ok {
			t.Errorf("stream URL change on replica 2: %s still serves the old origin %s after the change, to its first request since: %s",
				r.name, time.Since(changed).Round(time.Millisecond), last)
		}
	}

	// Every replica has origin-b cached now, fetched just above.
	took := propagation(rs, change("origin-a"), propagationBound, func(r *replica) (bool, string) { return serves(r, "origin-a") })
	report(t, "stream URL change on replica 2 served", took, propagationBound)
}

// checkUnavailable checks that, with the database unreachable, the API
// answers 503 with the JSON error shape on every replica, promptly.
func checkUnavailable(t *testing.T, a *api, rs []*replica, token string, cred map[string]string, when string) {
	t.Helper()
	var slowest time.Duration
	failed := false
	bad := func(format string, a ...any) {
		t.Helper()
		failed = true
		t.Errorf(when+" "+format, a...)
	}
	for _, r := range rs {
		for _, c := range []struct {
			method, path, token string
			body                any
			retryAfter          bool
		}{
			{"GET", "/api/streams", token, nil, true},
			{"POST", "/api/login", "", cred, true},
			{"GET", "/healthz", "", nil, false},
		} {
			res, err := a.do(r, c.method, c.path, c.token, c.body)
			if err != nil {
				bad("%s: %s %s: %v (want 503 within %s)", r.name, c.method, c.path, err, apiTimeout)
				continue
			}
			slowest = max(slowest, res.took)
			var e struct{ Error string }
			switch {
			case res.status != http.StatusServiceUnavailable:
				bad("%s: %s %s: %d %s, want 503", r.name, c.method, c.path, res.status, res.body)
			case !strings.HasPrefix(res.header.Get("Content-Type"), "application/json"),
				json.Unmarshal(res.body, &e) != nil, e.Error == "":
				bad("%s: %s %s: 503 without the JSON error shape: %q %s", r.name, c.method, c.path, res.header.Get("Content-Type"), res.body)
			case c.retryAfter && res.header.Get("Retry-After") == "":
				bad("%s: %s %s: 503 without Retry-After", r.name, c.method, c.path)
			}
		}
	}
	if !failed {
		t.Logf("%s: every replica answered GET /api/streams, POST /api/login and GET /healthz with 503; slowest %s", when, slowest.Round(time.Millisecond))
	}
}

// checkLogoutAfterRecovery logs in on every replica once the database is
// back, then logs one of those sessions out and checks that every replica
// refuses it within 2 s: revocation sync caught up after the outage.
func checkLogoutAfterRecovery(t *testing.T, a *api, rs []*replica, cred map[string]string, streamID int64) {
	t.Helper()
	tokens := make([]string, len(rs))
	for i, r := range rs {
		var login struct{ Token string }
		a.must(t, r, "POST", "/api/login", "", cred, http.StatusOK, &login)
		tokens[i] = login.Token
	}
	var pb struct{ URL string }
	a.must(t, rs[0], "GET", fmt.Sprintf("/api/streams/%d/playback", streamID), tokens[0], nil, http.StatusOK, &pb)
	u, err := url.Parse(pb.URL)
	if err != nil {
		t.Fatal(err)
	}
	status := func(r *replica) (int, string) {
		st, body, err := a.get(r.url()+u.RequestURI(), viewerUA)
		if err != nil {
			return 0, err.Error()
		}
		return st, fmt.Sprintf("%d %.80q", st, body)
	}
	for _, r := range rs {
		if st, last := status(r); st != http.StatusOK {
			t.Fatalf("%s: the new session's playback URL: %s", r.name, last)
		}
	}
	a.must(t, rs[2], "POST", "/api/logout", tokens[0], nil, http.StatusNoContent, nil)
	took := propagation(rs, time.Now(), propagationBound, func(r *replica) (bool, string) {
		st, last := status(r)
		return st == http.StatusForbidden, last
	})
	report(t, "logout on replica 3 after the outage refused", took, propagationBound)
}

// checkLogout logs the viewer's session out on replica 1 and measures when
// each replica refuses the viewer's playlist and segment URLs.
func checkLogout(t *testing.T, a *api, rs []*replica, token, playlist, segment string) {
	t.Helper()
	if segment == "" {
		t.Fatal("the viewer fetched no segment")
	}
	status := func(r *replica, uri string) (int, string) {
		st, body, err := a.get(r.url()+uri, viewerUA)
		if err != nil {
			return 0, err.Error()
		}
		return st, fmt.Sprintf("%d %.80q", st, body)
	}
	for _, r := range rs {
		for _, uri := range []string{playlist, segment} {
			if st, last := status(r, uri); st != http.StatusOK {
				t.Fatalf("%s before the logout: GET %s: %s", r.name, redactToken(uri), last)
			}
		}
	}
	a.must(t, rs[0], "POST", "/api/logout", token, nil, http.StatusNoContent, nil)
	took := propagation(rs, time.Now(), propagationBound, func(r *replica) (bool, string) {
		st, last := status(r, playlist)
		return st == http.StatusForbidden, last
	})
	report(t, "logout on replica 1 refused", took, propagationBound)
	for _, r := range rs {
		if st, last := status(r, segment); st != http.StatusForbidden {
			t.Errorf("%s after the logout: a segment URL answers %s, want 403", r.name, last)
		}
		if res, err := a.do(r, "GET", "/api/streams", token, nil); err != nil || res.status != http.StatusUnauthorized {
			t.Errorf("%s after the logout: the access token: %v %d, want 401", r.name, err, res.status)
		}
	}
}

// propagation polls cond on every replica at once, every pollEvery, until
// it holds or bound passes (plus a margin, so a late answer is measured
// rather than cut off). It returns, per replica, the time from since until
// cond first held, or a negative duration, and the last detail cond gave.
func propagation(rs []*replica, since time.Time, bound time.Duration, cond func(*replica) (bool, string)) []result {
	out := make([]result, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Go(func() {
			deadline := since.Add(bound + bound/2)
			for {
				ok, last := cond(r)
				if ok {
					out[i] = result{took: time.Since(since), last: last}
					return
				}
				if time.Now().After(deadline) {
					out[i] = result{took: -1, last: last}
					return
				}
				time.Sleep(pollEvery)
			}
		})
	}
	wg.Wait()
	return out
}

// result is one replica's figure from propagation.
type result struct {
	took time.Duration // negative: never
	last string        // what cond last saw
}

// report logs each replica's figure and fails those over bound.
func report(t *testing.T, what string, rs []result, bound time.Duration) {
	t.Helper()
	var figs []string
	for i, r := range rs {
		if r.took < 0 || r.took > bound {
			t.Errorf("%s: replica %d took %s, want at most %s (last: %s)", what, i+1, r.took.Round(time.Millisecond), bound, r.last)
		}
		figs = append(figs, fmt.Sprintf("replica %d %s", i+1, r.took.Round(time.Millisecond)))
	}
	t.Logf("%s: %s", what, strings.Join(figs, ", "))
}

// newTagOrigin serves a one-segment VOD playlist at /cam/index.m3u8 whose
// segment is named after tag, so a rewritten playlist shows which origin it
// came from, and MPEG-TS-looking segments.
func newTagOrigin(t testing.TB, tag string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/cam/index.m3u8":
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			fmt.Fprintf(w, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:1.0,\n%s-seg0.ts\n#EXT-X-ENDLIST\n", tag)
		case strings.HasSuffix(r.URL.Path, ".ts"):
			w.Header().Set("Content-Type", "video/mp2t")
			w.Write(bytes.Repeat([]byte{0x47}, 188*4))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// api calls the replicas' management API as the viewer's device (same
// User-Agent, so playback URLs it mints play for the viewer).
type api struct{ client *http.Client }

func newAPI() *api {
	return &api{client: &http.Client{Timeout: apiTimeout, Transport: &http.Transport{}}}
}

// apiResult is one API answer.
type apiResult struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
}

// do sends one JSON request to r; err is a transport error or timeout.
func (a *api) do(r *replica, method, path, token string, in any) (apiResult, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return apiResult{}, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.url()+path, body)
	if err != nil {
		return apiResult{}, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("User-Agent", viewerUA)
	start := time.Now()
	resp, err := a.client.Do(req)
	if err != nil {
		return apiResult{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return apiResult{}, err
	}
	return apiResult{status: resp.StatusCode, header: resp.Header, body: b, took: time.Since(start)}, nil
}

// must calls do and fails tb unless the answer has status want; out, if
// not nil, receives the JSON body.
func (a *api) must(tb testing.TB, r *replica, method, path, token string, in any, want int, out any) {
	tb.Helper()
	res, err := a.do(r, method, path, token, in)
	if err != nil {
		tb.Fatalf("%s: %s %s: %v", r.name, method, path, err)
	}
	if res.status != want {
		tb.Fatalf("%s: %s %s: %d %s, want %d", r.name, method, path, res.status, res.body, want)
	}
	if out != nil {
		if err := json.Unmarshal(res.body, out); err != nil {
			tb.Fatalf("%s: %s %s: %v in %s", r.name, method, path, err, res.body)
		}
	}
}

// get GETs a player URL with the viewer's User-Agent.
func (a *api) get(u, ua string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("User-Agent", ua)
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), err
}
