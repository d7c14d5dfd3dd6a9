package proxy

import (
	"bytes"
	"container/list"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The origin shield: per replica, concurrent requests for one upstream URL
// (and Range) become one upstream fetch whose bytes stream to every waiting
// player as they arrive, and finished 200/206 answers stay in an LRU with a
// byte budget. The key is the upstream URL, never the token, so every
// viewer of a stream shares it.
//
// Live playlists stay for a fraction of their target duration (players
// asking within that window get the same bytes, rewritten with their own
// tokens); segments stay until evicted or segmentTTL passes. Answers the
// origin marks no-store or private, and anything but 200/206, are never
// kept.
const (
	segmentTTL = 5 * time.Minute
	// maxPlaylistTTL caps the micro-cache of a playlist whatever its
	// target duration says.
	maxPlaylistTTL = 3 * time.Second
	// fetchTimeout bounds one shared upstream fetch, body included, since
	// no single player's context governs it.
	fetchTimeout = 2 * time.Minute
)

// upstream is an origin answer as the proxy consumes it, fresh or cached.
type upstream struct {
	status int
	header http.Header
	body   io.ReadCloser
	url    *url.URL // final URL after redirects
	// data is the whole body when it came from the cache (body reads the
	// same bytes), so it can be written in one go.
	data []byte
}

// shield collapses and caches upstream fetches.
type shield struct {
	budget   int64 // bytes of cached bodies at most
	maxEntry int64 // largest body kept or shared
	now      func() time.Time

	mu      sync.Mutex
	flights map[string]*flight
	lru     *list.List // of *entry, most recent first
	entries map[string]*list.Element
	used    int64

	// Counters for tests and metrics.
	fetches atomic.Int64 // upstream round trips started
	hits    atomic.Int64 // answers served from the LRU
	joins   atomic.Int64 // answers that joined a flight in progress
}

func newShield(budget int64, now func() time.Time) *shield {
	return &shield{
		budget: budget, maxEntry: max(budget/8, 1<<20), now: now,
		flights: map[string]*flight{}, lru: list.New(), entries: map[string]*list.Element{},
	}
}

// entry is a finished, cacheable answer.
type entry struct {
	key     string
	status  int
	header  http.Header
	body    []byte
	url     *url.URL
	expires time.Time
}

func (e *entry) size() int64 { return int64(len(e.body)+len(e.key)) + 512 }

// flight is one upstream fetch that any number of players read as it
// arrives.
type flight struct {
	s      *shield
	key    string
	cancel context.CancelFunc
	ready  chan struct{} // closed when headers (or err) are in

	// timer cancels the fetch after fetchTimeout, unless one player has
	// taken over the rest of the body (then that player's pace rules).
	timer *time.Timer

	// Set before ready closes, read-only after.
	status int
	header http.Header
	url    *url.URL
	err    error
	solo   bool // announced too big to share: the first player streams it alone

	mu      sync.Mutex
	cond    *sync.Cond
	buf     []byte
	done    bool // buf is final
	bodyErr error
	readers int
	// rest is the unread remainder of an answer too big to share (solo,
	// or found too big midway): the first player to need it reads it
	// directly; any other player of the flight gets errShareEnded.
	rest        io.ReadCloser
	restClaimed bool
}

// errShareEnded is what a player sharing a fetch gets when the answer
// turned out too big to share and another player took over its rest. The
// player's connection is cut; its retry fetches on its own.
var errShareEnded = errors.New("proxy: upstream body too large to share")

// cacheKey is the shield key of a request: the upstream URL and the
// request headers that reach the origin and may change its answer (Range,
// Accept). Never the token.
func cacheKey(target *url.URL, h http.Header) string {
	return target.String() + "\x00" + h.Get("Range") + "\x00" + h.Get("Accept")
}

// open returns the answer for key: from the LRU, by joining a flight, or
// by starting one with fetch (which must use the context it is given).
func (s *shield) open(ctx context.Context, key string, fetch func(context.Context) (*http.Response, error)) (*upstream, error) {
	s.mu.Lock()
	if el, ok := s.entries[key]; ok {
		e := el.Value.(*entry)
		if s.now().Before(e.expires) {
			s.lru.MoveToFront(el)
			s.mu.Unlock()
			s.hits.Add(1)
			return &upstream{status: e.status, header: e.header, body: io.NopCloser(bytes.NewReader(e.body)), url: e.url, data: e.body}, nil
		}
		s.removeLocked(el)
	}
	f, joined := s.flights[key]
	if !joined {
		// readers starts at 1, the leader, before the fetch can look at it.
		f = &flight{s: s, key: key, ready: make(chan struct{}), readers: 1}
		f.cond = sync.NewCond(&f.mu)
		s.flights[key] = f
		var fctx context.Context
		fctx, f.cancel = context.WithCancel(context.Background())
		f.timer = time.AfterFunc(fetchTimeout, f.cancel)
		s.fetches.Add(1)
		go s.run(fctx, f, fetch)
	} else {
		f.mu.Lock()
		f.readers++
		f.mu.Unlock()
	}
	s.mu.Unlock()
	if joined {
		s.joins.Add(1)
	}

	select {
	case <-f.ready:
	case <-ctx.Done():
		f.release()
		return nil, ctx.Err()
	}
	if f.err != nil {
		f.release()
		return nil, f.err
	}
	if f.solo {
		if body := f.claimRest(); body != nil {
			return &upstream{status: f.status, header: f.header, body: body, url: f.url}, nil
		}
		// Another player streams the flight's copy; this one fetches its own.
		f.release()
		resp, err := fetch(ctx)
		if err != nil {
			return nil, err
		}
		return &upstream{status: resp.StatusCode, header: resp.Header, body: resp.Body, url: resp.Request.URL}, nil
	}
	r := &flightReader{f: f, ctx: ctx}
	r.stop = context.AfterFunc(ctx, func() {
		f.mu.Lock()
		direct := r.direct != nil
		f.cond.Broadcast()
		f.mu.Unlock()
		if direct {
			f.cancel() // the player left while reading the rest directly
		}
	})
	return &upstream{status: f.status, header: f.header, body: r, url: f.url}, nil
}

// claimRest hands the unread rest of f's body to the calling player, once;
// nil when another player has it. The body's Close ends the fetch and the
// player's share in f.
func (f *flight) claimRest() io.ReadCloser {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rest == nil || f.restClaimed {
		return nil
	}
	f.restClaimed = true
	f.timer.Stop()
	return &restBody{f: f, ReadCloser: f.rest}
}

// restBody is a claimed rest read straight from the origin.
type restBody struct {
	io.ReadCloser
	f *flight
}

func (b *restBody) Close() error {
	err := b.ReadCloser.Close()
	b.f.cancel()
	b.f.release()
	return err
}

// run performs the upstream fetch of f and fills its buffer.
func (s *shield) run(ctx context.Context, f *flight, fetch func(context.Context) (*http.Response, error)) {
	resp, err := fetch(ctx)
	if err != nil {
		f.timer.Stop()
		f.cancel()
		f.err = err
		s.forget(f)
		close(f.ready)
		return
	}
	f.status, f.header, f.url = resp.StatusCode, resp.Header, resp.Request.URL
	if resp.ContentLength > s.maxEntry {
		// Too big to hold in memory for sharing: the first player streams
		// it directly, the others fetch their own.
		f.solo = true
		f.mu.Lock()
		f.rest, f.done = resp.Body, true
		f.mu.Unlock()
		s.forget(f)
		close(f.ready)
		return
	}
	if resp.ContentLength > 0 {
		f.buf = make([]byte, 0, resp.ContentLength)
	}
	close(f.ready)

	chunk := make([]byte, 32<<10)
	var total int64
	for {
		n, rerr := resp.Body.Read(chunk)
		if n > 0 {
			total += int64(n)
			f.mu.Lock()
			f.buf = append(f.buf, chunk[:n]...)
			f.cond.Broadcast()
			f.mu.Unlock()
		}
		if rerr == nil && total > s.maxEntry {
			// Bigger than announced (or not announced): stop sharing.
			// The first player to reach the end of what was buffered
			// reads on from the origin directly.
			f.mu.Lock()
			f.rest, f.done = resp.Body, true
			f.cond.Broadcast()
			f.mu.Unlock()
			s.forget(f)
			return
		}
		if rerr != nil {
			f.timer.Stop()
			resp.Body.Close()
			f.mu.Lock()
			if rerr != io.EOF {
				f.bodyErr = rerr
			}
			f.done = true
			f.cond.Broadcast()
			f.mu.Unlock()
			f.cancel()
			s.finish(f, rerr == io.EOF)
			return
		}
	}
}

// forget removes f from the flights map.
func (s *shield) forget(f *flight) {
	s.mu.Lock()
	if s.flights[f.key] == f {
		delete(s.flights, f.key)
	}
	s.mu.Unlock()
}

// finish stores a completed flight if it may be cached, and forgets it.
func (s *shield) finish(f *flight, ok bool) {
	ttl := time.Duration(0)
	if ok {
		ttl = cacheTTL(f.status, f.header, f.buf)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flights[f.key] == f {
		delete(s.flights, f.key)
	}
	if ttl <= 0 || int64(len(f.buf)) > s.maxEntry {
		return
	}
	e := &entry{key: f.key, status: f.status, header: f.header, body: f.buf, url: f.url, expires: s.now().Add(ttl)}
	if el, ok := s.entries[f.key]; ok {
		s.removeLocked(el)
	}
	s.entries[f.key] = s.lru.PushFront(e)
	s.used += e.size()
	for s.used > s.budget && s.lru.Len() > 0 {
		s.removeLocked(s.lru.Back())
	}
}

func (s *shield) removeLocked(el *list.Element) {
	e := el.Value.(*entry)
	s.lru.Remove(el)
	delete(s.entries, e.key)
	s.used -= e.size()
}

// cacheTTL says how long an answer may be kept: 0 for never.
func cacheTTL(status int, h http.Header, body []byte) time.Duration {
	if status != http.StatusOK && status != http.StatusPartialContent {
		return 0
	}
	cc := strings.ToLower(strings.Join(h.Values("Cache-Control"), ","))
	if strings.Contains(cc, "no-store") || strings.Contains(cc, "private") || strings.Contains(cc, "no-cache") {
		return 0
	}
	if bytes.HasPrefix(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")), []byte("#EXTM3U")) {
		return playlistTTL(body)
	}
	ttl := segmentTTL
	if ma, ok := maxAge(cc); ok && ma < ttl {
		ttl = ma
	}
	return ttl
}

// playlistTTL is half the playlist's target duration (or part target, for
// LL-HLS), capped at maxPlaylistTTL.
func playlistTTL(p []byte) time.Duration {
	ttl := maxPlaylistTTL
	if d, ok := tagSeconds(p, "#EXT-X-TARGETDURATION:"); ok {
		ttl = min(ttl, d/2)
	}
	if d, ok := tagSeconds(p, "PART-TARGET="); ok {
		ttl = min(ttl, d/2)
	}
	return ttl
}

func tagSeconds(p []byte, tag string) (time.Duration, bool) {
	i := bytes.Index(p, []byte(tag))
	if i < 0 {
		return 0, false
	}
	rest := p[i+len(tag):]
	end := bytes.IndexAny(rest, ",\r\n")
	if end < 0 {
		end = len(rest)
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(rest[:end])), 64)
	if err != nil || f <= 0 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

func maxAge(cc string) (time.Duration, bool) {
	for _, d := range strings.Split(cc, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(d), "max-age="); ok {
			n, err := strconv.Atoi(v)
			if err == nil && n >= 0 {
				return time.Duration(n) * time.Second, true
			}
		}
	}
	return 0, false
}

// release drops one reader of f. When the last player leaves before the
// fetch is done, the fetch is cancelled and forgotten, so an origin that
// hangs holds no goroutine or connection past its players, and the next
// player starts afresh; a rest nobody took is closed.
func (f *flight) release() {
	s := f.s
	s.mu.Lock()
	f.mu.Lock()
	f.readers--
	abandon := f.readers == 0 && !f.done
	var orphan io.Closer
	if f.readers == 0 && f.rest != nil && !f.restClaimed {
		f.restClaimed = true
		orphan = f.rest
	}
	f.mu.Unlock()
	if abandon && s.flights[f.key] == f {
		delete(s.flights, f.key)
	}
	s.mu.Unlock()
	if orphan != nil {
		orphan.Close()
	}
	if abandon || orphan != nil {
		f.cancel()
	}
}

// flightReader reads a flight's body from the start, waiting for bytes
// that have not arrived yet.
type flightReader struct {
	f      *flight
	off    int
	ctx    context.Context
	stop   func() bool
	direct io.ReadCloser // the flight's rest, once this reader took it over
	closed bool
}

func (r *flightReader) Read(p []byte) (int, error) {
	if r.direct != nil {
		return r.direct.Read(p)
	}
	f := r.f
	f.mu.Lock()
	for r.off >= len(f.buf) && !f.done {
		if err := r.ctx.Err(); err != nil {
			f.mu.Unlock()
			return 0, err
		}
		f.cond.Wait()
	}
	if r.off < len(f.buf) {
		n := copy(p, f.buf[r.off:])
		r.off += n
		f.mu.Unlock()
		return n, nil
	}
	if f.rest != nil {
		if f.restClaimed {
			f.mu.Unlock()
			return 0, errShareEnded
		}
		f.restClaimed = true
		r.direct = f.rest
		f.mu.Unlock()
		f.timer.Stop()
		return r.direct.Read(p)
	}
	err := f.bodyErr
	f.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return 0, io.EOF
}

func (r *flightReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.stop()
	if r.direct != nil {
		r.direct.Close()
		r.f.cancel()
	}
	r.f.release()
	return nil
}
