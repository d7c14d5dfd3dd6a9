package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/signer"
)

const testUA = "TestPlayer/1.0"

type fakeStreams struct {
	mu    sync.Mutex
	m     map[int64]Stream
	calls int
	err   error
}

func (f *fakeStreams) Stream(_ context.Context, id int64) (Stream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return Stream{}, f.err
	}
	st, ok := f.m[id]
	if !ok {
		return Stream{}, ErrStreamNotFound
	}
	return st, nil
}

type revokedSet map[signer.SessionID]bool

func (r revokedSet) Revoked(id signer.SessionID) bool { return r[id] }

// fixture is a proxy in front of a test origin.
type fixture struct {
	t       *testing.T
	h       *Handler
	signer  *signer.Signer
	streams *fakeStreams
	origin  *httptest.Server
	gate    *httptest.Server
	clockMu sync.Mutex
	nowV    time.Time
	start   time.Time
	sid     signer.SessionID
	revoked revokedSet
	mu      sync.Mutex
	seen    []*http.Request // requests the origin saw
	// client is the players' client. Its timeout turns a request that
	// never ends into a test failure instead of a test binary stuck until
	// go test's -timeout.
	client *http.Client
}

func newFixture(t *testing.T, originHandler http.Handler, mod ...func(*Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, nowV: time.Unix(1_800_000_000, 0), start: time.Unix(1_800_000_000, 0), revoked: revokedSet{}}
	f.origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.seen = append(f.seen, r.Clone(context.Background()))
		f.mu.Unlock()
		originHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(f.origin.Close)
	ring, err := signer.NewKeyRing(signer.Key{ID: "k1", Secret: []byte(strings.Repeat("s", 32))})
	if err != nil {
		t.Fatal(err)
	}
	f.signer = signer.New(ring, signer.Options{BindIP: signer.BindIPExact, BindUA: true, Revocations: f.revoked})
	f.streams = &fakeStreams{m: map[int64]Stream{
		7: {ID: 7, OwnerID: 1, URL: f.origin.URL + "/live/cam1/index.m3u8"},
	}}
	clock := f.now
	cfg := Config{
		Signer: f.signer, Streams: NewStreamCache(f.streams, time.Second, clock), Now: clock,
		AllowPrivateUpstreams: true, ResponseHeaderTimeout: 2 * time.Second, MaxPlaylistSize: 64 << 10,
		CacheSize: 8 << 20,
	}
	for _, m := range mod {
		m(&cfg)
	}
	f.h, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.h.Close)
	f.gate = httptest.NewServer(f.h)
	t.Cleanup(f.gate.Close)
	f.client = &http.Client{Timeout: time.Minute, Transport: &http.Transport{}}
	t.Cleanup(f.client.CloseIdleConnections)
	f.sid = signer.SessionID{1, 2, 3}
	return f
}

func (f *fixture) token(streamID int64) string {
	return f.signer.Sign(signer.Claims{
		UserID: 1, SessionID: f.sid, StreamID: streamID,
		SessionExpires: f.start.Add(24 * time.Hour), Expires: f.now().Add(10 * time.Minute),
	}, signer.Client{IP: netip.MustParseAddr("127.0.0.1"), UserAgent: testUA})
}

func (f *fixture) url(rest string) string {
	return f.gate.URL + "/api/hls/" + f.token(7) + "/7/" + rest
}

func (f *fixture) get(rawURL string, hdr ...string) *http.Response {
	f.t.Helper()
	return f.do("GET", rawURL, hdr...)
}

func (f *fixture) do(method, rawURL string, hdr ...string) *http.Response {
	f.t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("User-Agent", testUA)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (f *fixture) originRequests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.seen...)
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantJSONError(t *testing.T, resp *http.Response, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d", resp.StatusCode, status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type = %q", ct)
	}
	var e struct{ Error string }
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == "" {
		t.Errorf("error body not {\"error\":...}: %v", err)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Error("error response without CORS header")
	}
}

// liveMedia is stream 7's playlist in the form players reload it by once
// the playback URL handed them the one-variant wrapper.
const liveMedia = "~/0/live/cam1/index.m3u8"

const mediaPlaylist = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\n" +
	"#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example/k1\"\n#EXTINF:2,\nseg1.m4s\n#EXTINF:2,\n../other/seg2.m4s\n#EXT-X-ENDLIST\n"

func serveFiles(files map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if strings.HasSuffix(r.URL.Path, ".m3u8") {
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		} else {
			w.Header().Set("Content-Type", "video/mp4")
			w.Header().Set("ETag", `"e1"`)
			w.Header().Set("Cache-Control", "max-age=60")
		}
		http.ServeContent(w, r, r.URL.Path, time.Unix(1_700_000_000, 0), strings.NewReader(body))
	})
}

func TestPlaylistRewrite(t *testing.T) {
	f := newFixture(t, serveFiles(map[string]string{"/live/cam1/index.m3u8": mediaPlaylist}))
	resp := f.get(f.url("index.m3u8"))
	body := readBody(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
		t.Errorf("Content-Length = %s, body is %d bytes", cl, len(body))
	}
	lines := strings.Split(body, "\n")
	var uris []string
	for _, l := range lines {
		if l != "" && !strings.HasPrefix(l, "#") {
			uris = append(uris, l)
		}
	}
	if len(uris) != 2 || !strings.HasPrefix(uris[0], "/api/hls/") || !strings.HasSuffix(uris[0], "/7/seg1.m4s") ||
		!strings.HasSuffix(uris[1], "/7/~/0/live/other/seg2.m4s") {
		t.Errorf("segment URIs = %q", uris)
	}
	if !strings.Contains(body, `#EXT-X-MAP:URI="/api/hls/`) {
		t.Errorf("MAP not rewritten:\n%s", body)
	}
	// A key on an origin the stream does not list is left alone and counted.
	if !strings.Contains(body, `URI="https://keys.example/k1"`) || f.h.UnproxiedURIs() != 1 {
		t.Errorf("foreign key URI: unproxied=%d body:\n%s", f.h.UnproxiedURIs(), body)
	}
	// Every rewritten URI works through the gate (here: 404 from origin, not 403).
	for _, u := range uris {
		r := f.get(f.gate.URL + u)
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want the origin's 404", u, r.StatusCode)
		}
	}
	// One token per response, deterministic across reloads.
	again := readBody(t, f.get(f.url("index.m3u8")))
	if again != body {
		t.Error("two loads of the same VOD playlist differ")
	}
}

func TestPlaylistDetectedByContentNotExtension(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		io.WriteString(w, "\xef\xbb\xbf#EXTM3U\n#EXTINF:2,\nchunk\n#EXT-X-ENDLIST\n")
	}))
	body := readBody(t, f.get(f.url("index.m3u8")))
	if !strings.Contains(body, "/7/chunk") || !strings.HasPrefix(body, "\xef\xbb\xbf#EXTM3U") {
		t.Errorf("sniffed playlist not rewritten:\n%q", body)
	}
}

func TestLiveTokensRollWithBucket(t *testing.T) {
	live := "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:2,\ns1.ts\n"
	f := newFixture(t, serveFiles(map[string]string{"/live/cam1/index.m3u8": live}))
	f.advance(10 * time.Second) // inside a bucket, not on its edge
	first := readBody(t, f.get(f.url(liveMedia)))
	f.advance(time.Second)
	if second := readBody(t, f.get(f.url(liveMedia))); second != first {
		t.Error("reloads within one bucket differ")
	}
	f.advance(liveTokenBucket)
	if third := readBody(t, f.get(f.url(liveMedia))); third == first {
		t.Error("live token did not roll to a new bucket")
	}
	// The live token dies within liveTokenTTL + bucket; the playlist URL does not.
	segURL := f.gate.URL + strings.TrimSpace(strings.Split(first, "\n")[4])
	f.advance(liveTokenTTL + liveTokenBucket)
	if r := f.get(segURL); r.StatusCode != http.StatusForbidden {
		t.Errorf("stale live segment token: %d, want 403", r.StatusCode)
	}
}

func TestTokenFailures(t *testing.T) {
	f := newFixture(t, serveFiles(map[string]string{"/live/cam1/index.m3u8": mediaPlaylist}))
	good := f.token(7)
	tamper := []byte(good)
	if tamper[40] == 'A' {
		tamper[40] = 'B'
	} else {
		tamper[40] = 'A'
	}
	f.streams.m[8] = Stream{ID: 8, OwnerID: 2, URL: f.origin.URL + "/x/index.m3u8"}
	tests := []struct {
		name string
		url  string
		hdr  []string
		want int
	}{
		{"tampered", f.gate.URL + "/api/hls/" + string(tamper) + "/7/index.m3u8", nil, 403},
		{"garbage", f.gate.URL + "/api/hls/nonsense/7/index.m3u8", nil, 403},
		{"other stream id in path", f.gate.URL + "/api/hls/" + good + "/8/index.m3u8", nil, 403},
		{"other user agent", f.gate.URL + "/api/hls/" + good + "/7/index.m3u8", []string{"User-Agent", "Other/2"}, 403},
		{"no stream id", f.gate.URL + "/api/hls/" + good, nil, 404},
		{"traversal", f.gate.URL + "/api/hls/" + good + "/7/%2e%2e/%2e%2e/etc/passwd", nil, 400},
		{"encoded slash", f.gate.URL + "/api/hls/" + good + "/7/a%2fb", nil, 400},
		{"double slash host", f.gate.URL + "/api/hls/" + good + "/7//evil.example/x", nil, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := f.get(tt.url, tt.hdr...)
			wantJSONError(t, resp, tt.want)
		})
	}
	t.Run("revoked", func(t *testing.T) {
		f.revoked[f.sid] = true
		defer delete(f.revoked, f.sid)
		wantJSONError(t, f.get(f.url("index.m3u8")), 403)
	})
	t.Run("expired", func(t *testing.T) {
		u := f.url("index.m3u8")
		f.advance(11 * time.Minute)
		defer func() { f.advance(-11 * time.Minute) }()
		wantJSONError(t, f.get(u), 403)
	})
	t.Run("stream deleted", func(t *testing.T) {
		delete(f.streams.m, 7)
		f.h.cfg.Streams.Invalidate(7)
		wantJSONError(t, f.get(f.url("index.m3u8")), 404)
	})
	for _, r := range f.originRequests() {
		if !strings.HasPrefix(r.URL.Path, "/live/cam1/") {
			t.Errorf("origin saw a request outside the stream: %s", r.URL.Path)
		}
	}
}

func TestSegmentPassThrough(t *testing.T) {
	seg := strings.Repeat("0123456789", 10_000)
	f := newFixture(t, serveFiles(map[string]string{"/live/cam1/seg1.m4s": seg}))

	t.Run("full", func(t *testing.T) {
		resp := f.get(f.url("seg1.m4s"), "Cookie", "sess=secret", "Authorization", "Bearer secret")
		body := readBody(t, resp)
		if resp.StatusCode != 200 || body != seg {
			t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
		}
		for k, want := range map[string]string{"Content-Type": "video/mp4", "Content-Length": strconv.Itoa(len(seg)),
			"Etag": `"e1"`, "Cache-Control": "max-age=60", "Accept-Ranges": "bytes"} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		last := f.originRequests()[len(f.originRequests())-1]
		if last.Header.Get("Cookie") != "" || last.Header.Get("Authorization") != "" {
			t.Error("player credentials reached the origin")
		}
		if ua := last.Header.Get("User-Agent"); ua != "hlsgate/1" {
			t.Errorf("origin saw User-Agent %q", ua)
		}
	})
	t.Run("range", func(t *testing.T) {
		resp := f.get(f.url("seg1.m4s"), "Range", "bytes=10-19")
		if resp.StatusCode != 206 || readBody(t, resp) != "0123456789" || resp.Header.Get("Content-Range") != "bytes 10-19/100000" {
			t.Errorf("range: %d %q", resp.StatusCode, resp.Header.Get("Content-Range"))
		}
	})
	t.Run("unsatisfiable range", func(t *testing.T) {
		if resp := f.get(f.url("seg1.m4s"), "Range", "bytes=200000-"); resp.StatusCode != 416 {
			t.Errorf("status %d, want 416", resp.StatusCode)
		}
	})
	t.Run("not modified", func(t *testing.T) {
		if resp := f.get(f.url("seg1.m4s"), "If-None-Match", `"e1"`); resp.StatusCode != 304 {
			t.Errorf("status %d, want 304", resp.StatusCode)
		}
	})
	t.Run("head", func(t *testing.T) {
		resp := f.do("HEAD", f.url("seg1.m4s"))
		if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != strconv.Itoa(len(seg)) {
			t.Errorf("HEAD: %d, length %q", resp.StatusCode, resp.Header.Get("Content-Length"))
		}
	})
	t.Run("query forwarded", func(t *testing.T) {
		f.get(f.url("seg1.m4s?_HLS_msn=4&_HLS_part=2&sig=a%2Fb"))
		reqs := f.originRequests()
		if q := reqs[len(reqs)-1].URL.RawQuery; q != "_HLS_msn=4&_HLS_part=2&sig=a%2Fb" {
			t.Errorf("origin query = %q", q)
		}
	})
}

func TestUpstreamStatusMapping(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/live/cam1/missing.ts":
			http.NotFound(w, r)
		case "/live/cam1/forbidden.ts":
			http.Error(w, "no", http.StatusForbidden)
		case "/live/cam1/broken.ts":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "/live/cam1/slow.ts":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		case "/live/cam1/big.m3u8":
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			io.WriteString(w, "#EXTM3U\n")
			for i := 0; i < 10_000; i++ {
				io.WriteString(w, "#EXTINF:2,\nsegment-with-a-long-name.ts\n")
			}
		case "/live/cam1/redirect-away.ts":
			http.Redirect(w, r, "http://evil.example/x.ts", http.StatusFound)
		case "/live/cam1/redirect-home.ts":
			http.Redirect(w, r, "/live/cam1/missing.ts", http.StatusFound)
		case "/live/cam1/loop.ts":
			http.Redirect(w, r, "/live/cam1/loop.ts", http.StatusFound)
		}
	}))
	tests := []struct {
		rest string
		want int
	}{
		{"missing.ts", 404},
		{"forbidden.ts", 502},
		{"broken.ts", 502},
		{"slow.ts", 504},
		{"big.m3u8", 502},
		{"redirect-away.ts", 502},
		{"redirect-home.ts", 404},
		{"loop.ts", 502},
	}
	for _, tt := range tests {
		t.Run(tt.rest, func(t *testing.T) {
			wantJSONError(t, f.get(f.url(tt.rest)), tt.want)
		})
	}
}

func TestSSRFGuardInDialer(t *testing.T) {
	// With the guard on, a stream pointing at loopback cannot be fetched
	// even though its token is valid.
	f := newFixture(t, serveFiles(nil), func(c *Config) { c.AllowPrivateUpstreams = false })
	wantJSONError(t, f.get(f.url("index.m3u8")), 502)
	if n := len(f.originRequests()); n != 0 {
		t.Errorf("origin saw %d requests", n)
	}
}

func TestMidBodyFailureAborts(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp2t")
		w.Header().Set("Content-Length", "100000")
		w.Write(make([]byte, 64<<10))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // origin dies mid-body
	}))
	resp := f.get(f.url("seg.ts"))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("read %d bytes and a clean end; want a cut connection", len(b))
	}
	if strings.Contains(string(b), "error") {
		t.Error("an error was appended to a half-sent body")
	}
}

func TestCORS(t *testing.T) {
	f := newFixture(t, serveFiles(map[string]string{"/live/cam1/seg1.ts": "x"}))
	resp := f.do("OPTIONS", f.url("seg1.ts"), "Origin", "https://app.example", "Access-Control-Request-Method", "GET",
		"Access-Control-Request-Headers", "range")
	if resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Range") ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	resp = f.get(f.url("seg1.ts"), "Origin", "https://app.example")
	if exp := resp.Header.Get("Access-Control-Expose-Headers"); !strings.Contains(exp, "Content-Range") || !strings.Contains(exp, "Content-Length") {
		t.Errorf("Expose-Headers = %q", exp)
	}
	wantJSONError(t, f.do("POST", f.url("seg1.ts")), 405)

	g := newFixture(t, serveFiles(map[string]string{"/live/cam1/seg1.ts": "x"}), func(c *Config) { c.CORSOrigins = []string{"https://app.example"} })
	if got := g.get(g.url("seg1.ts"), "Origin", "https://app.example").Header.Get("Access-Control-Allow-Origin"); got != "https://app.example" {
		t.Errorf("listed origin: ACAO = %q", got)
	}
	if got := g.get(g.url("seg1.ts"), "Origin", "https://evil.example").Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("unlisted origin: ACAO = %q", got)
	}
}

func TestStreamCacheNoQueryPerSegment(t *testing.T) {
	f := newFixture(t, serveFiles(map[string]string{"/live/cam1/seg1.ts": "x"}))
	for i := 0; i < 20; i++ {
		readBody(t, f.get(f.url("seg1.ts")))
	}
	if f.streams.calls != 1 {
		t.Errorf("stream lookups = %d for 20 segments, want 1", f.streams.calls)
	}
	// Database down: the stale entry keeps serving.
	f.streams.err = errors.New("db down")
	f.advance(time.Minute)
	if r := f.get(f.url("seg1.ts")); r.StatusCode != 200 {
		t.Errorf("during outage: %d", r.StatusCode)
	}
}

func TestRenditionReportStaysRelative(t *testing.T) {
	ll := "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PART-INF:PART-TARGET=0.5\n#EXTINF:2,\ns1.ts\n" +
		"#EXT-X-PART:DURATION=0.5,URI=\"s2.p0.ts\"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s2.p1.ts\"\n" +
		"#EXT-X-RENDITION-REPORT:URI=\"../high/index.m3u8\",LAST-MSN=2,LAST-PART=0\n"
	f := newFixture(t, serveFiles(map[string]string{"/live/cam1/low/index.m3u8": ll}))
	body := readBody(t, f.get(f.url("low/index.m3u8")))
	if !strings.Contains(body, `#EXT-X-RENDITION-REPORT:URI="../high/index.m3u8"`) {
		t.Errorf("rendition report changed:\n%s", body)
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "#EXT-X-PRELOAD-HINT") && !strings.Contains(l, "/7/low/s2.p1.ts") {
			t.Errorf("preload hint: %s", l)
		}
	}
	base, _ := url.Parse(f.url("low/index.m3u8"))
	ref, _ := url.Parse("../high/index.m3u8")
	if p := base.ResolveReference(ref).Path; !strings.HasSuffix(p, "/7/high/index.m3u8") {
		t.Errorf("report resolves to %s", p)
	}
}

func (f *fixture) now() time.Time {
	f.clockMu.Lock()
	defer f.clockMu.Unlock()
	return f.nowV
}

func (f *fixture) advance(d time.Duration) {
	f.clockMu.Lock()
	defer f.clockMu.Unlock()
	f.nowV = f.nowV.Add(d)
}

func TestPlaylistHeadAndRange(t *testing.T) {
	f := newFixture(t, serveFiles(map[string]string{"/live/cam1/index.m3u8": mediaPlaylist}))
	resp := f.do("HEAD", f.url("index.m3u8"))
	get := f.get(f.url("index.m3u8"))
	body := readBody(t, get)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" ||
		!strings.Contains(resp.Header.Get("Content-Type"), "mpegurl") ||
		resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Errorf("HEAD playlist: %d %v; GET has %d bytes", resp.StatusCode, resp.Header, len(body))
	}
	// A playlist the origin labels as something else is still one, to
	// HEAD as to GET.
	g := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, mediaPlaylist)
	}))
	head, full := g.do("HEAD", g.url("index.m3u8")), g.get(g.url("index.m3u8"))
	if n := readBody(t, full); head.Header.Get("Content-Length") != strconv.Itoa(len(n)) || head.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("HEAD of a text/plain playlist: %v; GET has %d bytes", head.Header, len(n))
	}
	// A ranged playlist would be a raw slice with the origin's own URIs.
	resp = f.get(f.url("index.m3u8"), "Range", "bytes=0-40")
	wantJSONError(t, resp, http.StatusRequestedRangeNotSatisfiable)
	// ffmpeg's "bytes=0-" is the whole playlist: rewritten as usual, 200.
	resp = f.get(f.url("index.m3u8"), "Range", "bytes=0-")
	if body := readBody(t, resp); resp.StatusCode != 200 || !strings.Contains(body, "/7/seg1.m4s") {
		t.Errorf("bytes=0- playlist: %d\n%s", resp.StatusCode, body)
	}
}

func TestWholeRange(t *testing.T) {
	for cr, want := range map[string]bool{
		"bytes 0-99/100": true, "bytes 0-98/100": false, "bytes 1-99/100": false,
		"bytes 0-99/*": false, "": false, "bytes 0-0/1": true,
	} {
		if got := wholeRange(cr); got != want {
			t.Errorf("wholeRange(%q) = %v", cr, got)
		}
	}
}

// TestHeadersBothWays: only what an origin needs goes up, only what a
// player needs comes down; credentials and hop-by-hop headers never cross.
func TestHeadersBothWays(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "video/mp2t")
		h.Set("Set-Cookie", "origin-session=1")
		h.Set("Connection", "X-Hop")
		h.Set("X-Hop", "1")
		h.Set("Server", "origin/1.0")
		h.Set("Access-Control-Allow-Origin", "https://origin-only.example")
		io.WriteString(w, "seg")
	}))
	resp := f.get(f.url("seg.ts"), "Proxy-Authorization", "Basic eA==", "Authorization", "Bearer x", "Cookie", "c=1",
		"X-Forwarded-For", "198.51.100.1", "Connection", "X-Hop", "X-Hop", "1", "Accept", "video/*")
	readBody(t, resp)
	for _, k := range []string{"Set-Cookie", "X-Hop", "Server"} {
		if v := resp.Header.Get(k); v != "" {
			t.Errorf("player got %s: %q", k, v)
		}
	}
	if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q, want hlsgate's own", v)
	}
	reqs := f.originRequests()
	up := reqs[len(reqs)-1].Header
	for _, k := range []string{"Proxy-Authorization", "Authorization", "Cookie", "X-Forwarded-For", "X-Hop"} {
		if v := up.Get(k); v != "" {
			t.Errorf("origin got %s: %q", k, v)
		}
	}
	if up.Get("Accept") != "video/*" {
		t.Errorf("origin did not get Accept: %q", up.Get("Accept"))
	}
}

// TestLiveMediaEntryIsWrapped: a stream whose URL is a live media playlist
// gets, at its playback URL, a one-variant multivariant playlist whose
// variant URI lasts the session, so a viewer reloading it is never cut off
// when the playback URL's own token expires.
func TestLiveMediaEntryIsWrapped(t *testing.T) {
	live := "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:2,\ns1.ts\n"
	f := newFixture(t, serveFiles(map[string]string{"/live/cam1/index.m3u8": live}))
	master := readBody(t, f.get(f.url("index.m3u8")))
	variant := firstLineURI(master)
	if !strings.Contains(master, "#EXT-X-STREAM-INF:BANDWIDTH=") || !strings.HasSuffix(variant, "/7/"+liveMedia) {
		t.Fatalf("playback URL answered:\n%s", master)
	}
	// Reload the variant as a player does, every 10 s for 11 minutes:
	// past the playback URL's 10-minute token.
	for i := 0; i < 66; i++ {
		resp := f.get(f.gate.URL + variant)
		body := readBody(t, resp)
		if resp.StatusCode != 200 || !strings.Contains(body, "#EXTINF") {
			t.Fatalf("after %s of watching, reload: %d\n%s", time.Duration(i)*10*time.Second, resp.StatusCode, body)
		}
		// Its segments work too.
		if r := f.get(f.gate.URL + firstLineURI(body)); r.StatusCode != http.StatusNotFound {
			t.Fatalf("segment after %s: %d, want the origin's 404", time.Duration(i)*10*time.Second, r.StatusCode)
		}
		f.advance(10 * time.Second)
	}
	// A VOD media playlist is not wrapped: its URIs last the session anyway.
	g := newFixture(t, serveFiles(map[string]string{"/live/cam1/index.m3u8": mediaPlaylist}))
	if body := readBody(t, g.get(g.url("index.m3u8"))); strings.Contains(body, "STREAM-INF") {
		t.Errorf("VOD playlist wrapped:\n%s", body)
	}
}

// TestStreamQueryKeptWithPlayerQuery: the stream URL's own query (origin
// credentials) reaches the origin on every load of that playlist, LL-HLS
// blocking reloads included, with the player's parameters after it.
func TestStreamQueryKeptWithPlayerQuery(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.RequestURI())
		mu.Unlock()
		if r.URL.Query().Get("auth") != "SECRET" {
			http.Error(w, "no", 403)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		io.WriteString(w, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:2,\ns1.ts\n")
	}))
	f.streams.m[7] = Stream{ID: 7, OwnerID: 1, URL: f.origin.URL + "/live/cam1/index.m3u8?auth=SECRET"}
	for _, u := range []string{f.url("index.m3u8"), f.url(liveMedia), f.url(liveMedia + "?_HLS_msn=2&_HLS_part=1")} {
		if resp := f.get(u); resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", u, resp.StatusCode)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if last := seen[len(seen)-1]; last != "/live/cam1/index.m3u8?auth=SECRET&_HLS_msn=2&_HLS_part=1" {
		t.Errorf("origin saw %q", seen)
	}
}

// TestPassThroughSendsWhatArrived: bytes the origin has sent reach the
// player at once, even a piece too small to fill net/http's write buffers,
// while the origin holds the rest (a slow origin, an LL-HLS part being
// written).
func TestPassThroughSendsWhatArrived(t *testing.T) {
	for _, tt := range []struct {
		name    string
		cache   int64
		chunked bool // no Content-Length, as an LL-HLS part still being written
	}{
		{"shield", 8 << 20, false},
		{"direct", 0, false},
		{"shield chunked", 8 << 20, true},
		{"direct chunked", 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			first := []byte("first 100 bytes of a segment, ")
			first = append(first, bytes.Repeat([]byte("x"), 100-len(first))...)
			release := make(chan struct{})
			f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "video/mp2t")
				if !tt.chunked {
					w.Header().Set("Content-Length", "200")
				}
				w.Write(first)
				w.(http.Flusher).Flush()
				<-release
				w.Write(bytes.Repeat([]byte("y"), 100))
			}), func(c *Config) { c.CacheSize = tt.cache })
			free := closeOnce(release)
			t.Cleanup(free)
			// Headers and all: without a flush, both wait in net/http's
			// buffers, so even the response never arrives.
			req, _ := http.NewRequest("GET", f.url("part.ts"), nil)
			req.Header.Set("User-Agent", testUA)
			got := make([]byte, len(first))
			var resp *http.Response
			done := make(chan error, 1)
			go func() {
				var err error
				if resp, err = f.client.Do(req); err == nil {
					_, err = io.ReadFull(resp.Body, got)
				}
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil || !bytes.Equal(got, first) {
					t.Fatalf("first piece: %q, %v", got, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the 100 bytes the origin sent never reached the player")
			}
			defer resp.Body.Close()
			free()
			rest, err := io.ReadAll(resp.Body)
			if err != nil || string(rest) != strings.Repeat("y", 100) {
				t.Fatalf("rest: %q, %v", rest, err)
			}
		})
	}
}
