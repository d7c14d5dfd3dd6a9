package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// newPlaylistOrigin serves a tiny live playlist and its segments (plain
// bytes), for tests that need no real media.
func newPlaylistOrigin(t testing.TB) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, ".m3u8"):
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			io.WriteString(w, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:2,\ns1.ts\n#EXTINF:2,\ns2.ts\n")
		case strings.HasSuffix(r.URL.Path, ".ts"):
			w.Header().Set("Content-Type", "video/mp2t")
			io.WriteString(w, strings.Repeat("\x47", 188*10))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

const slowSegmentSize = 256 << 10

type slowOrigin struct {
	*httptest.Server
	started atomic.Bool
	release chan struct{}
	once    sync.Once
}

// Release lets the held second half go.
func (o *slowOrigin) Release() { o.once.Do(func() { close(o.release) }) }

// newSlowSegmentOrigin serves /live/slow.ts: half of it at once, the rest
// on Release. Cleanup releases it before closing the server, whose Close
// waits for the held handler, so a test that fails early does not hang.
func newSlowSegmentOrigin(t testing.TB) *slowOrigin {
	t.Helper()
	o := &slowOrigin{release: make(chan struct{})}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp2t")
		w.Header().Set("Content-Length", strconv.Itoa(slowSegmentSize))
		w.Write(make([]byte, slowSegmentSize/2))
		w.(http.Flusher).Flush()
		o.started.Store(true)
		<-o.release
		w.Write(make([]byte, slowSegmentSize/2))
	}))
	t.Cleanup(o.Close)
	t.Cleanup(o.Release) // runs first
	return o
}
