package server

import (
	"context"
	"net/http"
	"time"

	"github.com/hlsgate/hlsgate/auth"
	"github.com/julienschmidt/httprouter"
)

// handlerFunc is a route handler that returns its error for writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p httprouter.Params) error

// authedFunc is a route handler for an authenticated caller.
type authedFunc func(w http.ResponseWriter, r *http.Request, p httprouter.Params, who auth.Principal) error

type routeKey struct{}

// apiTimeout bounds each management API request, database calls included.
const apiTimeout = 10 * time.Second

// routes is the one table of hlsgate's routes.
func (s *Server) routes() http.Handler {
	r := httprouter.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = true
	r.HandleOPTIONS = false
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.writeError(w, req, errorf(http.StatusNotFound, "no such endpoint: %s %s", req.Method, redactPath(req.URL.Path)))
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.writeError(w, req, errorf(http.StatusMethodNotAllowed, "method %s not allowed here", req.Method))
	})

	open := func(method, path string, h handlerFunc) {
		r.Handle(method, path, s.adapt(path, h))
	}
	authed := func(method, path string, h authedFunc) {
		r.Handle(method, path, s.adapt(path, s.authenticate(h)))
	}

	open(http.MethodGet, "/healthz", s.handleHealth)

	open(http.MethodPost, "/api/register", s.handleRegister)
	open(http.MethodPost, "/api/login", s.handleLogin)
	authed(http.MethodPost, "/api/logout", s.handleLogout)
	authed(http.MethodPost, "/api/logout-all", s.handleLogoutAll)
	authed(http.MethodPost, "/api/password", s.handleChangePassword)
	authed(http.MethodGet, "/api/sessions", s.handleListSessions)
	authed(http.MethodDelete, "/api/sessions/:id", s.handleRevokeSession)

	// The original design's endpoints, kept as they were.
	authed(http.MethodGet, "/api/streams", s.handleListStreams)
	authed(http.MethodPost, "/api/update-stream", s.handleUpdateStreamLegacy)
	authed(http.MethodGet, "/api/stream", s.handlePlaybackLegacy)

	// REST twins.
	authed(http.MethodPost, "/api/streams", s.handleCreateStream)
	authed(http.MethodGet, "/api/streams/:id", s.handleGetStream)
	authed(http.MethodPut, "/api/streams/:id", s.handlePutStream)
	authed(http.MethodDelete, "/api/streams/:id", s.handleDeleteStream)
	authed(http.MethodGet, "/api/streams/:id/playback", s.handlePlayback)

	// The player path. The proxy answers every method itself (CORS
	// preflight, 405) so that its errors carry CORS headers.
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		r.Handler(m, "/api/hls/*rest", s.proxy)
	}

	return chain(r, s.stack()...)
}

// stack is the middleware every request passes, outermost first. The
// access log sits outside recoverPanics so that it records the 500 a
// recovered panic becomes, not the 200 a statusWriter assumes when nothing
// was written yet.
func (s *Server) stack() []middleware {
	return []middleware{requestIDs(), accessLog(s.log), s.recoverPanics, securityHeaders}
}

// adapt turns a handlerFunc into an httprouter.Handle that writes errors.
func (s *Server) adapt(route string, h handlerFunc) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		// A database that hangs must not hang the API: every API request
		// gets a deadline, and a query past it fails as unavailable (503).
		ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
		defer cancel()
		r = r.WithContext(context.WithValue(ctx, routeKey{}, route))
		w.Header().Set("Cache-Control", "no-store")
		if err := h(w, r, p); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// routeOf returns the route pattern a request matched, for logs.
func routeOf(r *http.Request) string {
	if v, ok := r.Context().Value(routeKey{}).(string); ok {
		return v
	}
	return redactPath(r.URL.Path)
}
