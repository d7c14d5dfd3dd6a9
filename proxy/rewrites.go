package proxy

import (
	"bytes"
	"hash/maphash"
	"sync"
)

// Bounds of the rewrite cache. Past either it starts over; playlists
// larger than maxRewriteSize (long VOD lists, fetched once per viewer
// anyway) are not kept at all.
const (
	maxRewrites     = 4096
	maxRewriteBytes = 32 << 20
	maxRewriteSize  = 1 << 20
)

// rewriteKey names one rewrite of one playlist version: everything the
// rewritten text depends on but the token.
type rewriteKey struct {
	stream *resolvedStream // the stream's origins, as loaded (a reload is a new key)
	base   string          // the playlist's final upstream URL
	rest   string          // the request path, for relative rendition reports
	sum    uint64          // the playlist's bytes
}

// rewritten is a rewritten playlist split where its token stood.
type rewritten struct {
	pieces [][]byte
	size   int // sum of len(pieces)
}

// join writes the playlist with token in the token's places.
func (t *rewritten) join(dst *bytes.Buffer, token string) {
	dst.Grow(t.size + (len(t.pieces)-1)*len(token))
	for i, p := range t.pieces {
		if i > 0 {
			dst.WriteString(token)
		}
		dst.Write(p)
	}
}

// rewriteCache keeps rewritten playlists so that the many viewers of one
// live playlist version cost a token and a copy each, not a rewrite: the
// text around the token is the same for all of them.
type rewriteCache struct {
	seed  maphash.Seed
	mu    sync.RWMutex
	m     map[rewriteKey]*rewritten
	bytes int // held by m
}

func newRewriteCache() *rewriteCache {
	return &rewriteCache{seed: maphash.MakeSeed(), m: map[rewriteKey]*rewritten{}}
}

func (c *rewriteCache) get(k rewriteKey) *rewritten {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[k]
}

// put stores out, a playlist rewritten with token.
func (c *rewriteCache) put(k rewriteKey, out []byte, token string) {
	if len(out) > maxRewriteSize {
		return
	}
	pieces := bytes.Split(bytes.Clone(out), []byte(token))
	t := &rewritten{pieces: pieces, size: len(out) - (len(pieces)-1)*len(token)}
	cost := t.size + 24*len(pieces) // the text and the slice headers
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxRewrites || c.bytes+cost > maxRewriteBytes {
		c.m = map[rewriteKey]*rewritten{}
		c.bytes = 0
	}
	if old, ok := c.m[k]; ok {
		c.bytes -= old.size + 24*len(old.pieces)
	}
	c.m[k] = t
	c.bytes += cost
}
