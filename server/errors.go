package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hlsgate/hlsgate/auth"
	"github.com/hlsgate/hlsgate/server/store"
)

// apiError is an error whose message is safe to show the client.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, format string, a ...any) error {
	return &apiError{status: status, msg: fmt.Sprintf(format, a...)}
}

func badRequest(format string, a ...any) error { return errorf(http.StatusBadRequest, format, a...) }

// errorStatus is the one place an error becomes an HTTP status and a
// client-safe message. Anything it does not know is a 500 with a generic
// message; the caller logs the real error.
func errorStatus(err error) (status int, msg string, retryAfter time.Duration) {
	var ae *apiError
	var te *auth.ThrottledError
	switch {
	case errors.As(err, &ae):
		return ae.status, ae.msg, 0
	case errors.As(err, &te):
		return http.StatusTooManyRequests, "too many failed logins; try again later", te.RetryAfter
	case errors.Is(err, auth.ErrBadCredentials):
		return http.StatusUnauthorized, "invalid username or password", 0
	case errors.Is(err, auth.ErrSessionLimit):
		return http.StatusForbidden, "session limit reached: log out of another session first", 0
	case errors.Is(err, auth.ErrInvalidToken), errors.Is(err, auth.ErrSessionInvalid):
		return http.StatusUnauthorized, "invalid or expired access token", 0
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "not found", 0
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, "conflict", 0
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this answer, and it is no
		// server error.
		return 499, "client closed request", 0
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "the database is unavailable; try again shortly", 5 * time.Second
	default:
		return http.StatusInternalServerError, "internal server error", 0
	}
}

// writeError answers with the JSON error shape {"error": "..."}.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg, retry := errorStatus(err)
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "route", routeOf(r), "err", err)
	}
	if retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
	}
	writeJSON(w, status, map[string]string{"error": msg})
}
