package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/signer"
)

// countingOrigin counts requests per path.
type countingOrigin struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countingOrigin) hit(p string) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[p]++
	c.mu.Unlock()
}

func (c *countingOrigin) count(p string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[p]
}

// viewerToken mints a token for viewer i: its own session, like a distinct
// logged-in user watching the same stream.
func (f *fixture) viewerToken(i int) string {
	return f.signer.Sign(signer.Claims{
		UserID: 1, SessionID: signer.SessionID{byte(i), byte(i >> 8), 0xee}, StreamID: 7,
		SessionExpires: f.start.Add(24 * time.Hour), Expires: f.now().Add(10 * time.Minute),
	}, signer.Client{IP: netip.MustParseAddr("127.0.0.1"), UserAgent: testUA})
}

func TestShieldCollapsesLiveAudience(t *testing.T) {
	const viewers = 200
	seg := bytes.Repeat([]byte("live"), 50_000)
	var origin countingOrigin
	release := make(chan struct{})
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin.hit(r.URL.Path)
		switch r.URL.Path {
		case "/live/cam1/index.m3u8":
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			io.WriteString(w, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:9\n#EXTINF:2,\nseg9.ts\n")
		case "/live/cam1/seg9.ts":
			<-release // hold the segment until every viewer is waiting for it
			w.Header().Set("Content-Type", "video/mp2t")
			w.Write(seg)
		}
	}))
	free := closeOnce(release)
	t.Cleanup(free) // before the origin's Close, which waits for held handlers
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: viewers}}
	t.Cleanup(client.CloseIdleConnections)
	get := func(u string) (int, []byte, error) {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("User-Agent", testUA)
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}

	var wg sync.WaitGroup
	var bad atomic.Int64
	for i := 0; i < viewers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := f.gate.URL + "/api/hls/" + f.viewerToken(i) + "/7/"
			st, body, err := get(base + liveMedia)
			if err != nil || st != 200 {
				bad.Add(1)
				return
			}
			segURI := firstLineURI(string(body))
			st, got, err := get(f.gate.URL + segURI)
			if err != nil || st != 200 || !bytes.Equal(got, seg) {
				bad.Add(1)
			}
		}()
	}
	// Let the viewers pile up on the segment, then let the origin answer.
	// Each viewer but the first joins the playlist fetch or hits its cache
	// entry, and joins the held segment fetch.
	waitUntil(t, 20*time.Second, func() bool { return f.h.shield.joins.Load()+f.h.shield.hits.Load() >= 2*(viewers-1) })
	free()
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Fatalf("%d of %d viewers failed", n, viewers)
	}
	if n := origin.count("/live/cam1/seg9.ts"); n != 1 {
		t.Errorf("origin saw %d requests for the segment, want 1 for %d viewers", n, viewers)
	}
	if n := origin.count("/live/cam1/index.m3u8"); n != 1 {
		t.Errorf("origin saw %d playlist requests within one refresh window, want 1", n)
	}
	// After the playlist's micro-cache window (half the target duration)
	// the next reload goes to the origin again.
	f.advance(1500 * time.Millisecond)
	get(f.gate.URL + "/api/hls/" + f.viewerToken(1) + "/7/index.m3u8")
	if n := origin.count("/live/cam1/index.m3u8"); n != 2 {
		t.Errorf("after the refresh window: %d playlist requests, want 2", n)
	}
	t.Logf("%d viewers: %d segment fetch, %d joined, %d cache hits", viewers, origin.count("/live/cam1/seg9.ts"), f.h.shield.joins.Load(), f.h.shield.hits.Load())
}

func firstLineURI(p string) string {
	for _, l := range strings.Split(p, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return ""
}

// closeOnce returns a func that closes ch the first time it is called. A
// test that holds an origin handler on ch registers it with t.Cleanup after
// the origin starts, so a failure before the release cannot leave the
// origin's Close waiting on the held handler for ever.
func closeOnce(ch chan struct{}) func() {
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

func waitUntil(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestShieldStreamsAsItArrives: a slow segment reaches every waiting player
// as the origin sends it, not after the whole segment is in.
func TestShieldStreamsAsItArrives(t *testing.T) {
	first := bytes.Repeat([]byte("a"), 64<<10)
	rest := bytes.Repeat([]byte("b"), 64<<10)
	release := make(chan struct{})
	var origin countingOrigin
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin.hit(r.URL.Path)
		w.Header().Set("Content-Type", "video/mp2t")
		w.Header().Set("Content-Length", "131072")
		w.Write(first)
		w.(http.Flusher).Flush()
		<-release
		w.Write(rest)
	}))
	free := closeOnce(release)
	t.Cleanup(free)
	const players = 5
	bodies := make([]io.ReadCloser, players)
	for i := range bodies {
		resp := f.get(f.url("slow.ts"))
		if resp.StatusCode != 200 {
			t.Fatalf("player %d: %d", i, resp.StatusCode)
		}
		bodies[i] = resp.Body
	}
	// Every player gets the first half while the origin still holds the rest.
	for i, b := range bodies {
		got := make([]byte, len(first))
		done := make(chan error, 1)
		go func() { _, err := io.ReadFull(b, got); done <- err }()
		select {
		case err := <-done:
			if err != nil || !bytes.Equal(got, first) {
				t.Fatalf("player %d: first half: %v", i, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("player %d got nothing while the origin was mid-segment", i)
		}
	}
	free()
	for i, b := range bodies {
		got, err := io.ReadAll(b)
		if err != nil || !bytes.Equal(got, rest) {
			t.Fatalf("player %d: second half: %v (%d bytes)", i, err, len(got))
		}
	}
	if n := origin.count("/live/cam1/slow.ts"); n != 1 {
		t.Errorf("origin saw %d requests, want 1", n)
	}
}

func TestShieldCachePolicy(t *testing.T) {
	var origin countingOrigin
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin.hit(r.URL.Path + "?" + r.URL.RawQuery + r.Header.Get("Range"))
		w.Header().Set("Content-Type", "video/mp2t")
		switch r.URL.Path {
		case "/live/cam1/nostore.ts":
			w.Header().Set("Cache-Control", "no-store")
		case "/live/cam1/private.ts":
			w.Header().Set("Cache-Control", "private, max-age=60")
		case "/live/cam1/missing.ts":
			http.NotFound(w, r)
			return
		case "/live/cam1/error.ts":
			http.Error(w, "boom", 500)
			return
		}
		http.ServeContent(w, r, "x.ts", time.Time{}, strings.NewReader(strings.Repeat("x", 1000)))
	}))
	tests := []struct {
		rest, rangeHdr string
		key            string
		want           int // origin requests after two identical player requests
	}{
		{"plain.ts", "", "/live/cam1/plain.ts?", 1},
		{"plain.ts", "bytes=0-9", "/live/cam1/plain.ts?bytes=0-9", 1},
		{"plain.ts", "bytes=10-19", "/live/cam1/plain.ts?bytes=10-19", 1},
		{"plain.ts?v=2", "", "/live/cam1/plain.ts?v=2", 1},
		{"nostore.ts", "", "/live/cam1/nostore.ts?", 2},
		{"private.ts", "", "/live/cam1/private.ts?", 2},
		{"missing.ts", "", "/live/cam1/missing.ts?", 2},
		{"error.ts", "", "/live/cam1/error.ts?", 2},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			var bodies []string
			for i := 0; i < 2; i++ {
				var hdr []string
				if tt.rangeHdr != "" {
					hdr = []string{"Range", tt.rangeHdr}
				}
				resp := f.get(f.url(tt.rest), hdr...)
				bodies = append(bodies, readBody(t, resp))
				// Sequential, not concurrent: let the shared fetch end
				// before the next request, so only the cache can serve it.
				waitUntil(t, 5*time.Second, f.h.shield.idle)
			}
			if bodies[0] != bodies[1] {
				t.Error("cached answer differs from the first")
			}
			if n := origin.count(tt.key); n != tt.want {
				t.Errorf("origin requests = %d, want %d", n, tt.want)
			}
		})
	}
	// Another Accept is another answer as far as the origin may care.
	f.get(f.url("plain.ts"), "Accept", "video/mp2t")
	if n := origin.count("/live/cam1/plain.ts?"); n != 2 {
		t.Errorf("other Accept: origin requests = %d, want 2", n)
	}
	waitUntil(t, 5*time.Second, f.h.shield.idle)
	// Conditional requests bypass the shield (the origin judges them).
	f.get(f.url("plain.ts"), "If-None-Match", `"x"`)
	if n := origin.count("/live/cam1/plain.ts?"); n != 3 {
		t.Errorf("conditional request: origin requests = %d, want 3", n)
	}
}

func TestShieldBudgetAndSolo(t *testing.T) {
	now := time.Unix(0, 0)
	s := newShield(4<<20, func() time.Time { return now }) // maxEntry 1 MiB
	fetch := func(size int) func(context.Context) (*http.Response, error) {
		return func(ctx context.Context) (*http.Response, error) {
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://o/x", nil)
			return &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: int64(size),
				Body: io.NopCloser(bytes.NewReader(make([]byte, size))), Request: req}, nil
		}
	}
	for i := 0; i < 20; i++ {
		up, err := s.open(context.Background(), strings.Repeat("k", i+1), fetch(512<<10))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, up.body)
		up.body.Close()
	}
	waitUntil(t, 5*time.Second, s.idle)
	s.mu.Lock()
	used, n := s.used, s.lru.Len()
	s.mu.Unlock()
	if used > s.budget || n == 0 || n >= 20 {
		t.Errorf("cache holds %d entries, %d bytes; budget %d", n, used, s.budget)
	}
	// A body over maxEntry is streamed, not held.
	up, err := s.open(context.Background(), "big", fetch(2<<20))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(up.body)
	up.body.Close()
	if len(b) != 2<<20 {
		t.Errorf("solo body: %d bytes", len(b))
	}
	if _, ok := s.entries["big"]; ok {
		t.Error("a body over maxEntry was cached")
	}
}

// TestShieldCancelsWhenEveryoneLeaves: when the only player disconnects,
// the shared upstream fetch stops.
func TestShieldCancelsWhenEveryoneLeaves(t *testing.T) {
	cancelled := make(chan struct{})
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp2t")
		for i := 0; i < 1000; i++ {
			if _, err := w.Write(make([]byte, 32<<10)); err != nil {
				break
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				close(cancelled)
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}))
	resp := f.get(f.url("endless.ts"))
	io.ReadFull(resp.Body, make([]byte, 100<<10))
	resp.Body.Close()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream fetch went on after every player left")
	}
}

// idle reports whether no shared fetch is in progress.
func (s *shield) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.flights) == 0
}

// TestRewriteCacheMatchesFreshRewrite: a viewer served from the rewrite
// cache gets exactly what a fresh rewrite would give, with its own token.
func TestRewriteCacheMatchesFreshRewrite(t *testing.T) {
	ll := "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\ns1.ts\n#EXT-X-MAP:URI=\"../init.mp4\"\n" +
		"#EXT-X-RENDITION-REPORT:URI=\"../high/index.m3u8\",LAST-MSN=2\n#EXTINF:2,\nhttps://evil.example/x.ts\n"
	f := newFixture(t, serveFiles(map[string]string{"/live/cam1/low/index.m3u8": ll}))
	get := func(i int) (string, string) {
		tok := f.viewerToken(i)
		resp := f.get(f.gate.URL + "/api/hls/" + tok + "/7/low/index.m3u8")
		return readBody(t, resp), tok
	}
	first, _ := get(1)
	second, _ := get(2)
	if f.h.UnproxiedURIs() != 1 {
		t.Errorf("unproxied URIs counted %d times, want once (the second viewer hit the cache)", f.h.UnproxiedURIs())
	}
	// Undo viewer 2's token: mint what viewer 1's rewrite used.
	firstTok := strings.Split(strings.Split(first, "/api/hls/")[1], "/")[0]
	secondTok := strings.Split(strings.Split(second, "/api/hls/")[1], "/")[0]
	if firstTok == secondTok {
		t.Fatal("two viewers got the same token")
	}
	if strings.ReplaceAll(second, secondTok, firstTok) != first {
		t.Errorf("cached rewrite differs from the fresh one:\n%s\n---\n%s", first, second)
	}
	// A rendition report stays relative to each request's own path.
	other := readBody(t, f.get(f.url("low/index.m3u8")))
	if !strings.Contains(other, `URI="../high/index.m3u8"`) {
		t.Errorf("rendition report:\n%s", other)
	}
}

// TestShieldKeepsEachStreamsRedirectPolicy: a cached answer that stream 8
// reached by a redirect onto its extra origin is not served to stream 7,
// which does not list that origin.
func TestShieldKeepsEachStreamsRedirectPolicy(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp2t")
		io.WriteString(w, "from-the-other-origin")
	}))
	defer other.Close()
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/x.ts", http.StatusFound)
	}))
	f.streams.m[8] = Stream{ID: 8, OwnerID: 1, URL: f.origin.URL + "/live/cam1/index.m3u8", ExtraOrigins: []string{other.URL}}
	r8 := f.get(f.gate.URL + "/api/hls/" + f.token(8) + "/8/seg.ts")
	io.Copy(io.Discard, r8.Body)
	r7 := f.get(f.url("seg.ts"))
	body, _ := io.ReadAll(r7.Body)
	t.Logf("stream 8: %d; stream 7: %d %q", r8.StatusCode, r7.StatusCode, body)
	if r7.StatusCode == 200 {
		t.Errorf("stream 7 got the body of a redirect target it does not allow")
	}
}

// TestRewriteCacheBoundedInBytes: requests with ever new queries on a large
// playlist cannot grow the rewrite cache past its byte budget.
func TestRewriteCacheBoundedInBytes(t *testing.T) {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n")
	for i := 0; b.Len() < 150<<10; i++ {
		fmt.Fprintf(&b, "#EXTINF:2,\nsegment-%06d.ts\n", i)
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	pl := b.String()
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, pl)
	}), func(c *Config) { c.MaxPlaylistSize = 8 << 20 })
	const n = 200
	for i := 0; i < n; i++ {
		resp := f.get(f.url(fmt.Sprintf("index.m3u8?x=%d", i)))
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	f.h.rewrites.mu.RLock()
	entries, held := len(f.h.rewrites.m), 0
	for _, v := range f.h.rewrites.m {
		held += v.size
	}
	f.h.rewrites.mu.RUnlock()
	t.Logf("%d requests with distinct queries: %d rewrite-cache entries holding %d MiB", n, entries, held>>20)
	if held == 0 {
		t.Error("nothing cached: the test no longer exercises the budget")
	}
	if held > maxRewriteBytes {
		t.Errorf("rewrite cache holds %d MiB", held>>20)
	}
}

// TestShieldBigChunkedBodyPlays: a body with no Content-Length that grows
// past what the shield shares is streamed on to its player, not cut.
func TestShieldBigChunkedBodyPlays(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 3<<20)
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp2t")
		for off := 0; off < len(big); off += 64 << 10 {
			w.Write(big[off : off+64<<10])
			w.(http.Flusher).Flush()
		}
	}), func(c *Config) { c.CacheSize = 4 << 20 })
	resp := f.get(f.url("big.ts"))
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != int64(len(big)) {
		t.Fatalf("status %d, got %d of %d bytes, err %v", resp.StatusCode, n, len(big), err)
	}
}

// TestShieldSoloBodyClosedWhenItsPlayerLeft: when the player that would
// have streamed a too-big answer left, the answer is closed, not held.
type trackBody struct {
	io.Reader
	closed *atomic.Bool
}

func (b trackBody) Close() error { b.closed.Store(true); return nil }

func TestShieldSoloBodyClosedWhenItsPlayerLeft(t *testing.T) {
	s := newShield(4<<20, time.Now)
	var closed atomic.Bool
	gate := make(chan struct{})
	var fetchCtx atomic.Value
	fetch := func(ctx context.Context) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://o/x", nil)
		if fetchCtx.Load() == nil {
			fetchCtx.Store(ctx)
			<-gate
			return &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: 2 << 20,
				Body: trackBody{bytes.NewReader(make([]byte, 2<<20)), &closed}, Request: req}, nil
		}
		return &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: 2 << 20,
			Body: io.NopCloser(bytes.NewReader(make([]byte, 2<<20))), Request: req}, nil
	}
	lctx, lcancel := context.WithCancel(context.Background())
	lerr := make(chan error, 1)
	go func() { _, err := s.open(lctx, "k", fetch); lerr <- err }()
	waitUntil(t, time.Second, func() bool { return fetchCtx.Load() != nil })
	fup := make(chan *upstream, 1)
	go func() { up, _ := s.open(context.Background(), "k", fetch); fup <- up }()
	waitUntil(t, time.Second, func() bool { return s.joins.Load() == 1 })
	lcancel()
	<-lerr
	close(gate)
	up := <-fup
	io.Copy(io.Discard, up.body)
	up.body.Close()
	time.Sleep(200 * time.Millisecond)
	t.Logf("leader's solo body closed: %v; fetch ctx done: %v", closed.Load(), fetchCtx.Load().(context.Context).Err() != nil)
	if !closed.Load() {
		t.Error("solo upstream body left open (held until fetchTimeout)")
	}
}

// TestShieldOverflowHandsRestToOnePlayer: when a shared body outgrows the
// share limit midway, the first player to need more reads on from the
// origin; the other player's copy ends with errShareEnded (its connection
// is cut and its retry fetches alone).
func TestShieldOverflowHandsRestToOnePlayer(t *testing.T) {
	s := newShield(4<<20, time.Now) // maxEntry 1 MiB
	gate := make(chan struct{})
	fetch := func(ctx context.Context) (*http.Response, error) {
		<-gate
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://o/x", nil)
		return &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: -1,
			Body: io.NopCloser(bytes.NewReader(make([]byte, 3<<20))), Request: req}, nil
	}
	ups := make(chan *upstream, 2)
	for i := 0; i < 2; i++ {
		go func() {
			up, err := s.open(context.Background(), "k", fetch)
			if err != nil {
				t.Error(err)
			}
			ups <- up
		}()
	}
	waitUntil(t, 5*time.Second, func() bool { return s.joins.Load() == 1 })
	close(gate)
	a, b := <-ups, <-ups
	na, erra := io.Copy(io.Discard, a.body)
	nb, errb := io.Copy(io.Discard, b.body)
	a.body.Close()
	b.body.Close()
	full, cut := na, nb
	errCut := errb
	if nb > na {
		full, cut, errCut = nb, na, erra
	}
	if full != 3<<20 {
		t.Errorf("the player that took over got %d bytes, want %d", full, 3<<20)
	}
	if !errors.Is(errCut, errShareEnded) || cut > 2<<20 {
		t.Errorf("the other player: %d bytes, err %v; want errShareEnded", cut, errCut)
	}
}
