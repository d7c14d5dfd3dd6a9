package hlstest

import (
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is one request as the Origin received it.
type Request struct {
	Method     string
	Path       string // URL path, not unescaped further
	RawQuery   string
	Range      string // the Range header, "" when absent
	UserAgent  string
	Header     http.Header // a clone of all request headers
	RemoteAddr string
	Time       time.Time
}

// OriginOption configures NewOrigin.
type OriginOption func(*originConfig)

type originConfig struct {
	latency    time.Duration
	reqName    string
	reqValue   string
	cors       bool
	middleware []func(http.Handler) http.Handler
}

// WithLatency delays every response by d (cut short when the client goes
// away), to make timeouts and slow origins testable.
func WithLatency(d time.Duration) OriginOption {
	return func(c *originConfig) { c.latency = d }
}

// WithRequiredHeader makes the origin answer 403 to any request whose header
// name does not equal value, to prove a proxy adds its origin credentials.
func WithRequiredHeader(name, value string) OriginOption {
	return func(c *originConfig) { c.reqName, c.reqValue = name, value }
}

// WithCORS adds permissive CORS headers and answers preflights, so a browser
// on another origin can play straight from the Origin. Off by default because
// a proxy must not rely on (or leak) the origin's CORS headers.
func WithCORS() OriginOption {
	return func(c *originConfig) { c.cors = true }
}

// WithMiddleware wraps the file handler (inside logging, latency and the
// required-header check), e.g. to answer some paths with an error status.
// The first middleware given is the outermost.
func WithMiddleware(mw func(http.Handler) http.Handler) OriginOption {
	return func(c *originConfig) { c.middleware = append(c.middleware, mw) }
}

// Origin is an HTTP server on 127.0.0.1 serving a directory of HLS files with
// HLS Content-Types and Range support, logging every request. It is closed by
// tb.Cleanup.
type Origin struct {
	// URL is the server's base URL, "http://127.0.0.1:port", without a
	// trailing slash.
	URL string
	// Dir is the directory served at "/".
	Dir string

	mu   sync.Mutex
	reqs []Request
}

// contentType returns the Content-Type real HLS origins send for a file
// extension; mime.TypeByExtension is not used because its answers depend on
// the host's mime files.
func contentType(ext string) string {
	switch strings.ToLower(ext) {
	case ".m3u8", ".m3u":
		return "application/vnd.apple.mpegurl"
	case ".ts":
		return "video/mp2t"
	case ".m4s", ".mp4", ".m4v":
		return "video/mp4"
	case ".m4a":
		return "audio/mp4"
	case ".aac":
		return "audio/aac"
	case ".mp3":
		return "audio/mpeg"
	case ".ac3":
		return "audio/ac3"
	case ".vtt", ".webvtt":
		return "text/vtt"
	case ".json":
		return "application/json"
	default: // .key and anything unknown
		return "application/octet-stream"
	}
}

// NewOrigin serves dir on a new httptest server on 127.0.0.1.
func NewOrigin(tb testing.TB, dir string, opts ...OriginOption) *Origin {
	tb.Helper()
	var cfg originConfig
	for _, o := range opts {
		o(&cfg)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		tb.Fatalf("hlstest: origin: %v", err)
	}
	tb.Cleanup(func() { root.Close() })

	o := &Origin{Dir: dir}
	var h http.Handler = fileHandler{root: root}
	if cfg.reqName != "" {
		h = requireHeader(cfg.reqName, cfg.reqValue, h)
	}
	for i := len(cfg.middleware) - 1; i >= 0; i-- {
		h = cfg.middleware[i](h)
	}
	if cfg.cors {
		h = corsHandler(h)
	}
	h = latencyHandler(cfg.latency, h)
	h = o.logHandler(h)

	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	o.URL = srv.URL
	return o
}

// URLFor returns the absolute URL of p, a path on the origin ("/a/b.m3u8" or
// "a/b.m3u8").
func (o *Origin) URLFor(p string) string {
	return o.URL + "/" + strings.TrimPrefix(p, "/")
}

// Requests returns a copy of the request log, oldest first.
func (o *Origin) Requests() []Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Request, len(o.reqs))
	copy(out, o.reqs)
	return out
}

// Paths returns the path of every logged request, oldest first.
func (o *Origin) Paths() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]string, len(o.reqs))
	for i, r := range o.reqs {
		out[i] = r.Path
	}
	return out
}

// Count returns how many logged requests had path p.
func (o *Origin) Count(p string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, r := range o.reqs {
		if r.Path == p {
			n++
		}
	}
	return n
}

// Reset empties the request log.
func (o *Origin) Reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reqs = nil
}

func (o *Origin) logHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := Request{
			Method:     r.Method,
			Path:       r.URL.Path,
			RawQuery:   r.URL.RawQuery,
			Range:      r.Header.Get("Range"),
			UserAgent:  r.UserAgent(),
			Header:     r.Header.Clone(),
			RemoteAddr: r.RemoteAddr,
			Time:       time.Now(),
		}
		o.mu.Lock()
		o.reqs = append(o.reqs, rec)
		o.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func latencyHandler(d time.Duration, next http.Handler) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
		next.ServeHTTP(w, r)
	})
}

func requireHeader(name, value string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(name) != value {
			http.Error(w, "forbidden: missing origin credentials", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func corsHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Range")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// fileHandler serves files from an os.Root, so no request path can leave the
// served directory, with fixed HLS Content-Types. http.ServeContent handles
// Range, If-Range and HEAD.
type fileHandler struct{ root *os.Root }

func (h fileHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = "."
	}
	f, err := h.root.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			http.NotFound(w, r)
			return
		}
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", contentType(path.Ext(name)))
	http.ServeContent(w, r, name, st.ModTime(), f)
}
