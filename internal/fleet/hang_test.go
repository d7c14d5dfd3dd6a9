package fleet

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/server/store"
	"github.com/hlsgate/hlsgate/server/store/storetest"
)

// apiHangBound is what the README promises when the database is down:
// the API answers 503 "within 10 s at worst". The margin covers the
// request itself on a loaded machine.
const apiHangBound = 10*time.Second + time.Second

// TestPlaybackWhileDatabaseHangs holds a replica to the README's "the
// database is down" row when the database does not refuse connections but
// stops answering them, as when its host drops off the network or the
// server is stuck: playback must go on from the stale stream cache, and the
// API must answer 503 within 10 s. TestFleet covers a database that
// refuses; this is the other way a database goes down.
func TestPlaybackWhileDatabaseHangs(t *testing.T) {
	dsn := storetest.DSN(t, store.EnginePostgres)
	bin := buildHlsgate(t)
	fwd, db := forwardedDSN(t, dsn)
	r := startFleet(t, 1, bin, replicaArgs(db), replicaEnv(newKeyRing(t)))[0]

	a := &api{client: &http.Client{Timeout: apiHangBound + 5*time.Second, Transport: &http.Transport{}}}
	cred := map[string]string{"username": username, "password": password}
	a.must(t, r, "POST", "/api/register", "", cred, http.StatusCreated, nil)
	var login struct{ Token string }
	a.must(t, r, "POST", "/api/login", "", cred, http.StatusOK, &login)
	origin := newTagOrigin(t, "origin-a")
	var st struct{ ID int64 }
	a.must(t, r, "POST", "/api/streams", login.Token, map[string]any{"name": "cam", "url": origin.URL + "/cam/index.m3u8"}, http.StatusCreated, &st)
	var pb struct{ URL string }
	a.must(t, r, "GET", fmt.Sprintf("/api/streams/%d/playback", st.ID), login.Token, nil, http.StatusOK, &pb)

	// The viewer plays, so the replica holds the stream in its cache.
	player := &http.Client{Timeout: viewerTimeout, Transport: &http.Transport{}}
	play := func(uri string) (int, string, error) {
		req, err := http.NewRequest(http.MethodGet, r.url()+uri, nil)
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("User-Agent", viewerUA)
		resp, err := player.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Status, nil
	}
	u, err := url.Parse(pb.URL)
	if err != nil {
		t.Fatal(err)
	}
	status, body, err := a.get(pb.URL, viewerUA)
	if err == nil && status == http.StatusOK && strings.Contains(body, "#EXT-X-STREAM-INF") {
		// The one-variant wrapper of a live media playlist: follow it.
		ref, _ := url.Parse(mediaURIs([]byte(body))[0])
		u = u.ResolveReference(ref)
		status, body, err = a.get(u.String(), viewerUA)
	}
	if err != nil || status != http.StatusOK || len(mediaURIs([]byte(body))) != 1 {
		t.Fatalf("playlist before the hang: %d %v %q", status, err, body)
	}
	uris := map[string]string{"playlist": u.RequestURI(), "segment": mediaURIs([]byte(body))[0]}
	for what, uri := range uris {
		if st, s, err := play(uri); err != nil || st != http.StatusOK {
			t.Fatalf("%s before the hang: %s %v", what, s, err)
		}
	}

	t.Logf("database hangs: %d open connections reset, new ones accepted and never answered", fwd.hang())
	time.Sleep(streamCacheTTL + streamCacheTTL/2) // the cached stream is stale now

	// The player and the API, at once, so the test takes the longest
	// bound rather than their sum.
	var wg sync.WaitGroup
	for what, uri := range uris {
		wg.Go(func() {
			start := time.Now()
			st, s, err := play(uri)
			took := time.Since(start).Round(time.Millisecond)
			if err != nil || st != http.StatusOK {
				t.Errorf("%s while the database hangs: %s %v after %s; want 200 within %s from the stale stream cache", what, s, err, took, viewerTimeout)
				return
			}
			t.Logf("%s while the database hangs: 200 in %s", what, took)
		})
	}
	for _, path := range []string{"/api/streams", "/healthz"} {
		wg.Go(func() {
			res, err := a.do(r, "GET", path, login.Token, nil)
			if err != nil || res.status != http.StatusServiceUnavailable || res.took > apiHangBound {
				t.Errorf("GET %s while the database hangs: %d %v after %s; want 503 within %s", path, res.status, err, res.took.Round(time.Millisecond), apiHangBound)
				return
			}
			t.Logf("GET %s while the database hangs: 503 in %s", path, res.took.Round(time.Millisecond))
		})
	}
	wg.Wait()

	fwd.restore()
	took := propagation([]*replica{r}, time.Now(), recoveryBound, func(r *replica) (bool, string) {
		res, err := a.do(r, "GET", "/api/streams", login.Token, nil)
		if err != nil {
			return false, err.Error()
		}
		return res.status == http.StatusOK, fmt.Sprint(res.status)
	})
	report(t, "API answers 200 again after the database answers again", took, recoveryBound)
	if err := r.stop(); err != nil {
		t.Errorf("%s: SIGTERM: want a clean exit, got %v", r.name, err)
	}
}
