package server

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// middleware wraps a handler.
type middleware func(http.Handler) http.Handler

// chain applies ms so that the first one is outermost.
func chain(h http.Handler, ms ...middleware) http.Handler {
	for i := len(ms) - 1; i >= 0; i-- {
		h = ms[i](h)
	}
	return h
}

// statusWriter records the status and size of a response. Unwrap lets
// http.ResponseController reach the underlying writer (Flush, deadlines).
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush keeps streaming working through the wrapper for code that asserts
// http.Flusher directly.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// accessLog writes one line per request. The path goes through redactPath
// so stream tokens never reach the log; headers are not logged at all.
func accessLog(log *slog.Logger) middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				status := sw.status
				if status == 0 {
					status = http.StatusOK
				}
				log.LogAttrs(r.Context(), slog.LevelInfo, "request",
					slog.String("id", w.Header().Get("X-Request-Id")),
					slog.String("method", r.Method),
					slog.String("path", redactPath(r.URL.EscapedPath())),
					slog.Int("status", status),
					slog.Int64("bytes", sw.bytes),
					slog.Duration("duration", time.Since(start)),
					slog.String("remote", r.RemoteAddr),
				)
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

// redactPath replaces the token segment of /api/hls/{token}/... with "…".
func redactPath(p string) string {
	const prefix = "/api/hls/"
	i := strings.Index(p, prefix)
	if i < 0 {
		return p
	}
	rest := p[i+len(prefix):]
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		return p[:i+len(prefix)] + "…" + rest[j:]
	}
	return p[:i+len(prefix)] + "…"
}

// requestIDs gives every request an id, echoed in X-Request-Id: a random
// per-process prefix and a counter, unique across replicas without costing
// a random read per request.
func requestIDs() middleware {
	var b [4]byte
	_, _ = rand.Read(b[:])
	prefix := hex.EncodeToString(b[:]) + "-"
	var n atomic.Uint64
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Request-Id", prefix+strconv.FormatUint(n.Add(1), 36))
			next.ServeHTTP(w, r)
		})
	}
}

// securityHeaders sets headers every response should carry. Referrer-Policy
// keeps stream tokens in URLs out of Referer headers.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into a JSON 500, unless the handler aborted
// on purpose (http.ErrAbortHandler) or had already started the response.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The access log's writer, when there is one, already tracks
		// whether the response started.
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
		}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic", "method", r.Method, "path", redactPath(r.URL.EscapedPath()), "panic", fmt.Sprint(v))
			if sw.status != 0 {
				// Part of a response is out: the only honest end is to
				// cut the connection, never to append an error to it.
				panic(http.ErrAbortHandler)
			}
			s.writeError(w, r, fmt.Errorf("panic: %v", v))
		}()
		next.ServeHTTP(sw, r)
	})
}
