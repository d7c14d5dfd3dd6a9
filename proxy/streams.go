package proxy

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// ErrStreamNotFound is returned by a StreamSource for a stream that does
// not exist (any more).
var ErrStreamNotFound = errors.New("proxy: stream not found")

// Stream is what the proxy needs to know about a stream.
type Stream struct {
	ID           int64
	OwnerID      int64
	URL          string
	ExtraOrigins []string // "scheme://host[:port]", besides the URL's own origin
}

// StreamSource looks a stream up by id (the database).
type StreamSource interface {
	Stream(ctx context.Context, id int64) (Stream, error)
}

// resolvedStream is a Stream with its URLs parsed once.
type resolvedStream struct {
	Stream
	url     *url.URL
	baseDir string   // escaped path of the playlist's folder, ending in "/"
	entry   string   // escaped last path segment of the playlist URL
	origins []string // [0] is the URL's own origin, then ExtraOrigins
}

func resolveStream(st Stream) (*resolvedStream, error) {
	u, err := url.Parse(st.URL)
	if err != nil {
		return nil, err
	}
	if u.Path == "" {
		u.Path = "/"
	}
	dir, entry := splitDir(u.EscapedPath())
	rs := &resolvedStream{Stream: st, url: u, baseDir: dir, entry: entry, origins: []string{Origin(u)}}
	rs.origins = append(rs.origins, st.ExtraOrigins...)
	return rs, nil
}

// originIndex returns the index of origin o in the stream's allowed
// origins, or -1.
func (rs *resolvedStream) originIndex(o string) int {
	for i, x := range rs.origins {
		if x == o {
			return i
		}
	}
	return -1
}

type cacheEntry struct {
	st      *resolvedStream
	err     error // ErrStreamNotFound is cached too, so a deleted stream costs no query per segment
	fetched time.Time
}

// StreamCache keeps streams in memory so that segment requests cost no
// database query. An entry older than the TTL is refreshed by one lookup
// that requests wait for briefly (staleWait); so changes made on other
// replicas are seen within the TTL, even by a replica nobody asked in the
// meantime, while a slow or absent database never holds up playback for
// long: stale entries keep serving through an outage. A change made on this
// replica invalidates the entry at once.
type StreamCache struct {
	src StreamSource
	ttl time.Duration
	now func() time.Time

	group      singleflight.Group
	mu         sync.RWMutex
	m          map[int64]cacheEntry
	refreshing map[int64]time.Time // lookups under way, by start
	gen        map[int64]uint64    // bumped by Invalidate
}

// staleWait is how long a request holding a stale entry waits for its
// refresh.
const staleWait = 250 * time.Millisecond

// lookupTimeout bounds one database lookup of a stream.
const lookupTimeout = 5 * time.Second

// maxStreamCacheEntries bounds the cache; past it, it is cleared.
const maxStreamCacheEntries = 100_000

// NewStreamCache returns an empty cache over src.
func NewStreamCache(src StreamSource, ttl time.Duration, now func() time.Time) *StreamCache {
	return &StreamCache{src: src, ttl: ttl, now: now, m: map[int64]cacheEntry{}, refreshing: map[int64]time.Time{}, gen: map[int64]uint64{}}
}

// Invalidate drops stream id from the cache. A lookup already under way
// is not trusted to refill it: its answer may predate the change.
func (c *StreamCache) Invalidate(id int64) {
	c.mu.Lock()
	delete(c.m, id)
	c.gen[id]++
	c.mu.Unlock()
	c.group.Forget(strconv.FormatInt(id, 10))
}

func (c *StreamCache) get(ctx context.Context, id int64) (*resolvedStream, error) {
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if ok && c.now().Sub(e.fetched) < c.ttl {
		return e.st, e.err
	}
	key := strconv.FormatInt(id, 10)
	c.mu.Lock()
	started, running := c.refreshing[id]
	if !running {
		started = time.Now()
		c.refreshing[id] = started
	}
	c.mu.Unlock()
	ch := c.group.DoChan(key, func() (any, error) {
		defer func() {
			c.mu.Lock()
			delete(c.refreshing, id)
			c.mu.Unlock()
		}()
		return c.load(id)
	})
	if !ok {
		select {
		case res := <-ch:
			if res.Err != nil {
				return nil, res.Err
			}
			return res.Val.(*resolvedStream), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	// Stale: wait for the refresh, but only until staleWait after it
	// began. An idle replica so gets the current stream on its first
	// request, and a slow or absent database delays playback by at most
	// staleWait once, then not at all: the stale entry keeps serving.
	timer := time.NewTimer(max(time.Until(started.Add(staleWait)), 0))
	defer timer.Stop()
	select {
	case res := <-ch:
		if res.Err == nil || errors.Is(res.Err, ErrStreamNotFound) {
			rs, _ := res.Val.(*resolvedStream)
			return rs, res.Err
		}
	case <-timer.C:
	case <-ctx.Done():
	}
	return e.st, e.err
}

// load reads stream id from the source and caches the answer: the stream,
// or ErrStreamNotFound. On any other error (database trouble) an entry
// already cached is kept and trusted for another TTL.
func (c *StreamCache) load(id int64) (*resolvedStream, error) {
	c.mu.RLock()
	gen := c.gen[id]
	c.mu.RUnlock()
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	st, err := c.src.Stream(ctx, id)
	var rs *resolvedStream
	if err == nil {
		rs, err = resolveStream(st)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil && !errors.Is(err, ErrStreamNotFound) {
		if old, ok := c.m[id]; ok {
			old.fetched = c.now()
			c.m[id] = old
			return old.st, old.err
		}
		return nil, err
	}
	if c.gen[id] != gen {
		return rs, err // invalidated meanwhile: answer, but do not cache
	}
	if len(c.m) >= maxStreamCacheEntries {
		c.m = map[int64]cacheEntry{}
		c.gen = map[int64]uint64{}
	}
	c.m[id] = cacheEntry{st: rs, err: err, fetched: c.now()}
	return rs, err
}
