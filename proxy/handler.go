package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hlsgate/hlsgate/playlist"
	"github.com/hlsgate/hlsgate/signer"
)

// Token lifetimes in rewritten playlists. One token is minted per response
// and shared by all of its URIs:
//
//   - multivariant playlists and VOD media playlists: until the session
//     ends. Players reload a media playlist from the URL the multivariant
//     gave them for as long as they play, and a VOD viewer may pause for
//     any time; revocation (logout, session limit) is the cut-off, within
//     one revocation sync.
//   - live and event media playlists: liveTokenTTL, rounded up to
//     liveTokenBucket. Players reload them every target duration and get
//     fresh tokens, so a copied segment URL dies within minutes, while
//     every reload inside one bucket yields identical URIs (LL-HLS needs a
//     PRELOAD-HINT URI to equal the later PART URI).
//
// Every token is still bound to the client's IP and User-Agent and never
// outlives the session.
const (
	liveTokenTTL    = 2 * time.Minute
	liveTokenBucket = time.Minute
)

// Config configures a Handler. Zero values get the defaults noted.
type Config struct {
	Signer  *signer.Signer
	Streams *StreamCache
	Clients *ClientIPResolver
	Log     *slog.Logger
	Now     func() time.Time // nil: time.Now

	// PathPrefix is put before /api/hls/ in rewritten URIs (the path of
	// -public-url), e.g. "/video".
	PathPrefix            string
	PlaybackTTL           time.Duration
	MaxPlaylistSize       int64         // 0: playlist.DefaultMaxSize
	AllowPrivateUpstreams bool          // LAN cameras and tests
	ResponseHeaderTimeout time.Duration // 0: 30s; must outlast an LL-HLS blocking reload
	DialTimeout           time.Duration // 0: 5s
	UserAgent             string        // sent to origins; "" : "hlsgate/1"
	CORSOrigins           []string      // nil or "*": any origin
	CacheSize             int64         // bytes of the origin shield's cache; 0: no shared fetches, no cache
	WriteTimeout          time.Duration // per write to the player; 0: 30s

	// Transport overrides the upstream transport (tests). It bypasses the
	// SSRF guard in the dialer, so production leaves it nil.
	Transport http.RoundTripper
}

// Handler serves /api/hls/{token}/{streamID}/{path...}.
type Handler struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	guard  *guard
	client *http.Client
	tr     *http.Transport
	bufs   sync.Pool // *[]byte for copying bodies
	pl     sync.Pool // *bytes.Buffer for playlists

	anyOrigin bool
	origins   map[string]bool

	shield   *shield // nil when -cache-size is 0
	rewrites *rewriteCache

	// Counters, read by tests and (later) metrics.
	unproxiedURIs atomic.Int64
}

// maxRedirects bounds the redirects followed for one upstream request.
const maxRedirects = 5

// copyBufferSize is the pooled buffer a segment is copied through: large
// enough that a 200 KB segment takes a few system calls, not dozens.
const copyBufferSize = 128 << 10

// New builds a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Signer == nil || cfg.Streams == nil {
		return nil, errors.New("proxy: Signer and Streams are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Clients == nil {
		cfg.Clients = NewClientIPResolver(nil)
	}
	if cfg.MaxPlaylistSize <= 0 {
		cfg.MaxPlaylistSize = playlist.DefaultMaxSize
	}
	if cfg.ResponseHeaderTimeout <= 0 {
		cfg.ResponseHeaderTimeout = 30 * time.Second
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "hlsgate/1"
	}
	if cfg.PlaybackTTL <= 0 {
		cfg.PlaybackTTL = 10 * time.Minute
	}
	h := &Handler{cfg: cfg, log: cfg.Log, now: cfg.Now, guard: newGuard(cfg.AllowPrivateUpstreams), origins: map[string]bool{}, rewrites: newRewriteCache()}
	h.bufs.New = func() any { b := make([]byte, copyBufferSize); return &b }
	h.pl.New = func() any { return new(bytes.Buffer) }
	for _, o := range cfg.CORSOrigins {
		if o == "*" {
			h.anyOrigin = true
		}
		h.origins[strings.TrimSuffix(o, "/")] = true
	}
	if len(cfg.CORSOrigins) == 0 {
		h.anyOrigin = true
	}
	rt := cfg.Transport
	if rt == nil {
		dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second, Control: h.guard.control}
		h.tr = &http.Transport{
			Proxy:                 nil, // never send stream traffic through an environment proxy
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   cfg.DialTimeout,
			ResponseHeaderTimeout: cfg.ResponseHeaderTimeout,
			ExpectContinueTimeout: time.Second,
			MaxIdleConns:          512,
			MaxIdleConnsPerHost:   128,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
			// Bodies pass through as the origin sent them; transparent
			// gzip would drop Content-Length and break Range.
			DisableCompression:     true,
			MaxResponseHeaderBytes: 64 << 10,
			ReadBufferSize:         64 << 10,
		}
		rt = h.tr
	}
	h.client = &http.Client{Transport: rt}
	if cfg.CacheSize > 0 {
		h.shield = newShield(cfg.CacheSize, cfg.Now)
	}
	return h, nil
}

// Close releases idle upstream connections.
func (h *Handler) Close() {
	if h.tr != nil {
		h.tr.CloseIdleConnections()
	}
}

// UnproxiedURIs counts URIs left as they were because they named an
// origin the stream does not list.
func (h *Handler) UnproxiedURIs() int64 { return h.unproxiedURIs.Load() }

// statusError is an error answered with a given status; msg is safe to
// show the client.
type statusError struct {
	status int
	msg    string
	err    error // for the log
}

func (e *statusError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *statusError) Unwrap() error { return e.err }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.cors(w, r)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		h.preflight(w, r)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		h.fail(w, r, &statusError{status: http.StatusMethodNotAllowed, msg: "method not allowed"})
		return
	}
	if err := h.serve(w, r); err != nil {
		h.fail(w, r, err)
	}
}

// request is one parsed player request.
type request struct {
	claims signer.Claims
	client signer.Client
	stream *resolvedStream
	rest   string // escaped path after the stream id
	token  string
}

func (h *Handler) parse(r *http.Request) (*request, error) {
	p := r.URL.EscapedPath()
	i := strings.Index(p, "/api/hls/")
	if i < 0 {
		return nil, &statusError{status: http.StatusNotFound, msg: "not found"}
	}
	token, after, ok := strings.Cut(p[i+len("/api/hls/"):], "/")
	if !ok {
		return nil, &statusError{status: http.StatusNotFound, msg: "not found"}
	}
	idStr, rest, ok := strings.Cut(after, "/")
	if !ok {
		return nil, &statusError{status: http.StatusNotFound, msg: "not found"}
	}
	id, err := strconv.ParseInt(idStr, 10, 64)
	if err != nil || id <= 0 {
		return nil, &statusError{status: http.StatusNotFound, msg: "not found"}
	}
	client := signer.Client{IP: h.cfg.Clients.ClientIP(r), UserAgent: r.UserAgent()}
	claims, err := h.cfg.Signer.Verify(token, client, h.now())
	if err != nil {
		return nil, &statusError{status: http.StatusForbidden, msg: "forbidden", err: err}
	}
	if claims.StreamID != id {
		return nil, &statusError{status: http.StatusForbidden, msg: "forbidden", err: errors.New("token is for another stream")}
	}
	st, err := h.cfg.Streams.get(r.Context(), id)
	if errors.Is(err, ErrStreamNotFound) {
		return nil, &statusError{status: http.StatusNotFound, msg: "stream not found"}
	}
	if err != nil {
		return nil, &statusError{status: http.StatusServiceUnavailable, msg: "stream lookup failed", err: err}
	}
	if st.OwnerID != claims.UserID {
		return nil, &statusError{status: http.StatusForbidden, msg: "forbidden", err: errors.New("stream changed owner")}
	}
	return &request{claims: claims, client: client, stream: st, rest: rest, token: token}, nil
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	req, err := h.parse(r)
	if err != nil {
		return err
	}
	target, err := req.stream.upstreamURL(req.rest, r.URL.RawQuery)
	if err != nil {
		return &statusError{status: http.StatusBadRequest, msg: "path not allowed", err: err}
	}
	up, err := h.open(r, req.stream, target)
	if err != nil {
		return err
	}
	defer up.body.Close()

	ct := up.header.Get("Content-Type")
	var head []byte
	var body io.Reader
	if up.data != nil {
		head, body = up.data[:min(len(up.data), 16)], bytes.NewReader(up.data)
	} else {
		head = peek(up.body, 16)
		body = io.MultiReader(bytes.NewReader(head), up.body)
	}
	if playlist.IsPlaylist(ct, head) {
		switch {
		case up.status == http.StatusOK,
			// ffmpeg asks for "bytes=0-" of everything: a range that is
			// the whole playlist is the playlist.
			up.status == http.StatusPartialContent && wholeRange(up.header.Get("Content-Range")):
			return h.servePlaylist(w, r, req, up, body)
		case up.status == http.StatusPartialContent:
			// A slice of a playlist cannot be rewritten, and passing it
			// through would hand out the origin's own URIs.
			return &statusError{status: http.StatusRequestedRangeNotSatisfiable, msg: "range requests on playlists are not supported"}
		}
	}
	return h.servePassThrough(w, r, up, body)
}

// peek reads up to n bytes, fewer only at the end of the body or on error
// (which the next read reports again).
func peek(r io.Reader, n int) []byte {
	buf := make([]byte, n)
	got := 0
	for got < n {
		m, err := r.Read(buf[got:])
		got += m
		if err != nil {
			break
		}
	}
	return buf[:got]
}

// forwardedRequestHeaders are the only player headers an origin sees.
var forwardedRequestHeaders = [...]string{"Range", "If-Range", "If-None-Match", "If-Modified-Since", "Accept"}

// open gets the origin's answer for target: through the shield (shared
// fetch and cache) unless the request is conditional, directly otherwise. Upstream statuses
// are mapped here: 404/410 become 404, other failures 502, timeouts 504.
func (h *Handler) open(r *http.Request, rs *resolvedStream, target *url.URL) (*upstream, error) {
	var up *upstream
	fetch := func(ctx context.Context) (*http.Response, error) { return h.roundTrip(ctx, r, rs, target) }
	if h.shield != nil && r.Header.Get("If-None-Match") == "" &&
		r.Header.Get("If-Modified-Since") == "" && r.Header.Get("If-Range") == "" {
		var err error
		up, err = h.shield.open(r.Context(), cacheKey(target, r.Header), fetch)
		if err != nil {
			return nil, upstreamError(r, err)
		}
		// The shield is shared by all streams, but redirects are judged
		// per stream: an answer another stream reached by a redirect onto
		// an origin this stream does not list is not this stream's.
		if rs.originIndex(Origin(up.url)) < 0 {
			up.body.Close()
			return nil, &statusError{status: http.StatusBadGateway, msg: "upstream error",
				err: errors.New("redirect to an origin the stream does not list (add it to extra_origins)")}
		}
	} else {
		resp, err := fetch(r.Context())
		if err != nil {
			return nil, upstreamError(r, err)
		}
		up = &upstream{status: resp.StatusCode, header: resp.Header, body: resp.Body, url: resp.Request.URL}
	}
	switch s := up.status; {
	case s == http.StatusNotFound || s == http.StatusGone:
		up.body.Close()
		return nil, &statusError{status: http.StatusNotFound, msg: "not found upstream"}
	case s == http.StatusGatewayTimeout:
		up.body.Close()
		return nil, &statusError{status: http.StatusGatewayTimeout, msg: "upstream timed out"}
	case s == http.StatusRequestedRangeNotSatisfiable, s == http.StatusNotModified:
		return up, nil
	case s < 200 || s >= 300:
		up.body.Close()
		return nil, &statusError{status: http.StatusBadGateway, msg: "upstream error", err: fmt.Errorf("upstream answered %d", s)}
	}
	return up, nil
}

// roundTrip asks the origin for target, following at most maxRedirects
// redirects, each onto an allowed origin of the stream.
func (h *Handler) roundTrip(ctx context.Context, r *http.Request, rs *resolvedStream, target *url.URL) (*http.Response, error) {
	// HEAD is asked of the origin as GET: whether the answer is a
	// playlist, and how long it is once rewritten, shows only in the body,
	// and HEAD must tell what GET would (the shield makes the GET cheap).
	out, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return nil, err
	}
	for _, k := range forwardedRequestHeaders {
		if v := r.Header.Values(k); len(v) > 0 {
			out.Header[k] = v
		}
	}
	out.Header.Set("User-Agent", h.cfg.UserAgent)
	client := *h.client
	client.CheckRedirect = func(next *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return fmt.Errorf("more than %d redirects", maxRedirects)
		}
		if next.URL.Scheme != "http" && next.URL.Scheme != "https" {
			return fmt.Errorf("redirect to scheme %q", next.URL.Scheme)
		}
		if rs.originIndex(Origin(next.URL)) < 0 {
			return errors.New("redirect to an origin the stream does not list (add it to extra_origins)")
		}
		return nil
	}
	return client.Do(out)
}

// upstreamError classifies a failed upstream round trip: timeouts are 504,
// everything else 502.
func upstreamError(r *http.Request, err error) error {
	err = redactURLError(err)
	if r.Context().Err() != nil {
		return &statusError{status: 499, msg: "client went away", err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return &statusError{status: http.StatusGatewayTimeout, msg: "upstream timed out", err: err}
	}
	return &statusError{status: http.StatusBadGateway, msg: "upstream unreachable", err: err}
}

// redactURLError keeps an origin URL's query (which may hold the origin's
// own credentials) out of the logs: net/http puts the whole URL in its
// errors.
func redactURLError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	u.User = nil
	return fmt.Errorf("%s %s: %w", ue.Op, u.Redacted(), ue.Err)
}

// passThroughHeaders are the origin response headers a player gets.
var passThroughHeaders = [...]string{
	"Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Content-Encoding",
	"ETag", "Last-Modified", "Cache-Control", "Expires",
}

// servePassThrough streams a segment (or anything not a playlist) to the
// player as it arrives, with no buffering beyond one pooled copy buffer.
func (h *Handler) servePassThrough(w http.ResponseWriter, r *http.Request, up *upstream, body io.Reader) error {
	hdr := w.Header()
	for _, k := range passThroughHeaders {
		if v := up.header.Values(k); len(v) > 0 {
			hdr[k] = append([]string(nil), v...) // a cached entry's slices stay its own
		}
	}
	w.WriteHeader(up.status)
	if r.Method == http.MethodHead || up.status == http.StatusNotModified {
		return nil
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
	if up.data != nil {
		if _, err := w.Write(up.data); err != nil {
			panic(http.ErrAbortHandler) // the player went away
		}
		return nil
	}
	bp := h.bufs.Get().(*[]byte)
	defer h.bufs.Put(bp)
	buf := *bp
	out := &latencyFlusher{w: w, rc: rc, latency: flushLatency}
	defer out.stop()
	lastDeadline := time.Now()
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			// Each write must make progress within WriteTimeout; moving
			// the deadline at most once a second keeps that cheap.
			if now := time.Now(); now.Sub(lastDeadline) > time.Second {
				_ = rc.SetWriteDeadline(now.Add(h.cfg.WriteTimeout))
				lastDeadline = now
			}
			if _, werr := out.Write(buf[:n]); werr != nil {
				panic(http.ErrAbortHandler) // the player went away
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			// Headers are out: cut the connection rather than end a
			// short body cleanly, so the player sees the failure.
			if r.Context().Err() == nil {
				h.log.WarnContext(r.Context(), "upstream body failed mid-response", "err", rerr)
			}
			panic(http.ErrAbortHandler)
		}
	}
}

// servePlaylist reads a playlist under the size limit, rewrites every URI
// in it and answers with Content-Length and no-store.
func (h *Handler) servePlaylist(w http.ResponseWriter, r *http.Request, req *request, up *upstream, body io.Reader) error {
	src := up.data
	if src == nil {
		in := h.pl.Get().(*bytes.Buffer)
		defer h.putBuf(in)
		in.Reset()
		n, err := in.ReadFrom(io.LimitReader(body, h.cfg.MaxPlaylistSize+1))
		if err != nil {
			return upstreamError(r, err)
		}
		src = in.Bytes()
		if n > h.cfg.MaxPlaylistSize {
			src = nil
		}
	}
	if src == nil || int64(len(src)) > h.cfg.MaxPlaylistSize {
		h.log.WarnContext(r.Context(), "playlist over the size limit; raise -max-playlist-size if it is legitimate",
			"stream_id", req.stream.ID, "limit", h.cfg.MaxPlaylistSize)
		return &statusError{status: http.StatusBadGateway, msg: "upstream playlist too large"}
	}

	if req.rest == req.stream.entry && isLiveMedia(src) {
		if wrapped, ok := h.entryWrapper(r, req); ok {
			return h.writePlaylist(w, r, up, wrapped)
		}
	}
	exp := req.claims.SessionExpires
	if isLiveMedia(src) {
		if live := signer.ExpiryBucket(h.now(), liveTokenTTL, liveTokenBucket); live.Before(exp) {
			exp = live
		}
	}
	c := req.claims
	c.Expires = exp
	token := h.cfg.Signer.Sign(c, req.client)

	out := h.pl.Get().(*bytes.Buffer)
	defer h.putBuf(out)
	out.Reset()
	// A playlist that reads the request's query (EXT-X-DEFINE:QUERYPARAM)
	// is rewritten afresh every time; any other is rewritten once per
	// version and then only gets each viewer's token.
	var key rewriteKey
	cacheable := !bytes.Contains(src, []byte("#EXT-X-DEFINE"))
	if cacheable {
		key = rewriteKey{stream: req.stream, base: up.url.String(), rest: req.rest, sum: maphash.Bytes(h.rewrites.seed, src)}
		if t := h.rewrites.get(key); t != nil {
			t.join(out, token)
			return h.writePlaylist(w, r, up, out.Bytes())
		}
	}
	m := &uriMapper{
		h: h, stream: req.stream, base: up.url,
		prefix:  h.cfg.PathPrefix + Path(token, req.stream.ID, ""),
		curRest: req.rest,
	}
	err := playlist.Rewrite(out, bytes.NewReader(src), playlist.Options{Map: m.mapURI, MaxSize: h.cfg.MaxPlaylistSize, Query: r.URL.Query()})
	if err != nil {
		return &statusError{status: http.StatusBadGateway, msg: "upstream playlist unusable", err: err}
	}
	if m.unproxied > 0 {
		h.unproxiedURIs.Add(int64(m.unproxied))
		h.log.WarnContext(r.Context(), "playlist URIs on origins the stream does not list were left as they are",
			"stream_id", req.stream.ID, "count", m.unproxied, "first_origin", m.firstUnproxied)
	}
	if cacheable {
		h.rewrites.put(key, out.Bytes(), token)
	}
	return h.writePlaylist(w, r, up, out.Bytes())
}

// entryWrapper answers the playback URL of a stream whose playlist is a
// live media playlist (a camera, an encoder) with a multivariant playlist
// of one variant: that playlist. Players reload a media playlist from the
// same URL for as long as they play, and the playback URL's token dies
// after -playback-ttl; the variant URI carries a token good for the whole
// session, like the URIs of any multivariant playlist. The variant names
// the same upstream playlist in the ~/0/ form, so it is not wrapped again.
func (h *Handler) entryWrapper(r *http.Request, req *request) ([]byte, bool) {
	path := req.stream.url.EscapedPath()
	rest := originMark + "/0" + path
	if checkRest(strings.TrimPrefix(path, "/")) != nil {
		return nil, false
	}
	if r.URL.RawQuery != "" {
		rest += "?" + r.URL.RawQuery
	}
	c := req.claims
	c.Expires = c.SessionExpires
	token := h.cfg.Signer.Sign(c, req.client)
	var b bytes.Buffer
	b.WriteString("#EXTM3U\n")
	// BANDWIDTH is required and unknown here; with a single variant
	// players use it for nothing but their first estimate.
	b.WriteString("#EXT-X-STREAM-INF:BANDWIDTH=2000000\n")
	b.WriteString(h.cfg.PathPrefix + Path(token, req.stream.ID, rest) + "\n")
	return b.Bytes(), true
}

// writePlaylist answers with a rewritten playlist.
func (h *Handler) writePlaylist(w http.ResponseWriter, r *http.Request, up *upstream, p []byte) error {
	hdr := w.Header()
	ct := up.header.Get("Content-Type")
	if !playlist.IsPlaylist(ct, nil) {
		ct = "application/vnd.apple.mpegurl"
	}
	hdr.Set("Content-Type", ct)
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Length", strconv.Itoa(len(p)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
	if _, err := w.Write(p); err != nil {
		panic(http.ErrAbortHandler)
	}
	return nil
}

// wholeRange reports whether a Content-Range covers a whole body:
// "bytes 0-(n-1)/n".
func wholeRange(cr string) bool {
	rest, ok := strings.CutPrefix(cr, "bytes 0-")
	if !ok {
		return false
	}
	last, total, ok := strings.Cut(rest, "/")
	l, err1 := strconv.ParseInt(last, 10, 64)
	n, err2 := strconv.ParseInt(total, 10, 64)
	return ok && err1 == nil && err2 == nil && l == n-1
}

// putBuf returns a playlist buffer to the pool unless it grew huge.
func (h *Handler) putBuf(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 {
		h.pl.Put(b)
	}
}

// isLiveMedia reports whether a playlist is a media playlist that is still
// growing: no ENDLIST, not VOD, not a multivariant playlist.
func isLiveMedia(p []byte) bool {
	return !bytes.Contains(p, []byte("#EXT-X-ENDLIST")) &&
		!bytes.Contains(p, []byte("#EXT-X-PLAYLIST-TYPE:VOD")) &&
		!bytes.Contains(p, []byte("#EXT-X-STREAM-INF"))
}

// uriMapper maps each URI of one playlist response.
type uriMapper struct {
	h      *Handler
	stream *resolvedStream
	base   *url.URL // final upstream URL after redirects
	prefix string   // "/api/hls/{token}/{id}/"
	// curRest is the request's own path after the stream id, for keeping
	// rendition reports relative.
	curRest        string
	unproxied      int
	firstUnproxied string
}

func (m *uriMapper) mapURI(ref playlist.Ref) (string, bool) {
	u, err := url.Parse(ref.URI)
	if err != nil {
		return "", false
	}
	abs := m.base.ResolveReference(u)
	abs.Fragment = ""
	rest, ok := m.stream.proxyRest(abs)
	if !ok {
		if m.unproxied == 0 {
			m.firstUnproxied = Origin(abs)
		}
		m.unproxied++
		return "", false
	}
	if ref.Kind == playlist.KindRenditionReport && !u.IsAbs() && !strings.HasPrefix(ref.URI, "/") {
		return relativeRest(m.curRest, rest), true
	}
	return m.prefix + rest, true
}

// relativeRest returns a relative reference that, resolved against the
// proxy URL whose path after the stream id is from, names the proxy path
// to. RENDITION-REPORT URIs must stay relative (RFC 8216bis 4.4.5.4).
func relativeRest(from, to string) string {
	dir, _ := splitDir(from)
	dir = strings.TrimPrefix(dir, "/")
	rel := strings.Repeat("../", strings.Count(dir, "/")) + to
	if strings.HasPrefix(to, dir) && !strings.HasPrefix(to[len(dir):], originMark+"/") && to[len(dir):] != "" {
		rel = to[len(dir):]
	}
	// A first segment with a colon would read as a URL scheme.
	if seg, _, _ := strings.Cut(rel, "/"); strings.Contains(seg, ":") {
		rel = "./" + rel
	}
	return rel
}

// fail answers a request that failed before any body went out.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var se *statusError
	if !errors.As(err, &se) {
		se = &statusError{status: http.StatusBadGateway, msg: "upstream error", err: err}
	}
	switch {
	case se.status == 499:
		return // the player is gone; nobody to answer
	case se.status == http.StatusForbidden:
		h.log.InfoContext(r.Context(), "stream token refused", "reason", errString(se.err))
	case se.status >= 500:
		h.log.WarnContext(r.Context(), "upstream request failed", "status", se.status, "err", errString(se.err))
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Del("Content-Length")
	w.WriteHeader(se.status)
	fmt.Fprintf(w, "{\"error\":%q}\n", se.msg)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// cors sets the CORS headers; every response carries them, errors too, so
// web players can read why a request failed.
func (h *Handler) cors(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	origin := r.Header.Get("Origin")
	switch {
	case h.anyOrigin:
		hdr.Set("Access-Control-Allow-Origin", "*")
	case origin != "" && h.origins[origin]:
		hdr.Set("Access-Control-Allow-Origin", origin)
		hdr.Add("Vary", "Origin")
	default:
		hdr.Add("Vary", "Origin")
		return
	}
	hdr.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range, Accept-Ranges, Content-Type, ETag")
}

// preflight answers a CORS preflight.
func (h *Handler) preflight(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	hdr.Set("Access-Control-Allow-Headers", "Range, If-Range, If-None-Match, If-Modified-Since")
	hdr.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}
