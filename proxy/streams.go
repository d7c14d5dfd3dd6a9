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

// StreamCache keeps streams in memory for a short TTL so that segment
// requests cost no database query. When the database fails, a stale entry
// keeps serving (playback survives an outage); a change made on this
// replica invalidates the entry at once, changes made on other replicas are
// seen within the TTL.
type StreamCache struct {
	src StreamSource
	ttl time.Duration
	now func() time.Time

	group singleflight.Group
	mu    sync.RWMutex
	m     map[int64]cacheEntry
}

// maxStreamCacheEntries bounds the cache; past it, it is cleared.
const maxStreamCacheEntries = 100_000

// NewStreamCache returns an empty cache over src.
func NewStreamCache(src StreamSource, ttl time.Duration, now func() time.Time) *StreamCache {
	return &StreamCache{src: src, ttl: ttl, now: now, m: map[int64]cacheEntry{}}
}

// Invalidate drops stream id from the cache.
func (c *StreamCache) Invalidate(id int64) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}

func (c *StreamCache) get(ctx context.Context, id int64) (*resolvedStream, error) {
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if ok && c.now().Sub(e.fetched) < c.ttl {
		return e.st, e.err
	}
	key := strconv.FormatInt(id, 10)
	v, err, _ := c.group.Do(key, func() (any, error) {
		st, err := c.src.Stream(context.WithoutCancel(ctx), id)
		var rs *resolvedStream
		if err == nil {
			rs, err = resolveStream(st)
		}
		if err != nil && !errors.Is(err, ErrStreamNotFound) {
			if ok && e.err == nil {
				return e.st, nil // database trouble: keep playing from the stale entry
			}
			return nil, err
		}
		c.mu.Lock()
		if len(c.m) >= maxStreamCacheEntries {
			c.m = map[int64]cacheEntry{}
		}
		c.m[id] = cacheEntry{st: rs, err: err, fetched: c.now()}
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return rs, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*resolvedStream), nil
}
