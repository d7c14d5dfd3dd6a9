package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRecoverPanics drives the middleware directly, since no route panics
// on purpose.
func TestRecoverPanics(t *testing.T) {
	for _, tc := range []struct {
		name      string
		handler   http.HandlerFunc
		wantPanic error // re-panicked value; nil means the middleware answers
		wantLog   bool
	}{
		{
			name:    "panic before writing",
			handler: func(http.ResponseWriter, *http.Request) { panic("boom: secret detail") },
			wantLog: true,
		},
		{
			name:    "panic with an error",
			handler: func(http.ResponseWriter, *http.Request) { panic(errors.New("nil map")) },
			wantLog: true,
		},
		{
			name: "panic after the response began",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write([]byte("partial"))
				panic("boom")
			},
			wantPanic: http.ErrAbortHandler,
			wantLog:   true,
		},
		{
			name:      "deliberate abort",
			handler:   func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) },
			wantPanic: http.ErrAbortHandler,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
			h := s.recoverPanics(tc.handler)
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/api/hls/SECRETTOKEN/1/index.m3u8", nil)

			var got any
			func() {
				defer func() { got = recover() }()
				h.ServeHTTP(rec, req)
			}()
			if tc.wantPanic != nil {
				if got != tc.wantPanic {
					t.Fatalf("re-panicked with %v, want %v", got, tc.wantPanic)
				}
			} else {
				if got != nil {
					t.Fatalf("panic escaped: %v", got)
				}
				if rec.Code != http.StatusInternalServerError {
					t.Errorf("status %d, want 500", rec.Code)
				}
				if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type %q", ct)
				}
				var body map[string]string
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body) != 1 || body["error"] != "internal server error" {
					t.Errorf("body %q, want {\"error\":\"internal server error\"}", rec.Body)
				}
			}
			if strings.Contains(rec.Body.String(), "secret detail") {
				t.Errorf("the panic value reached the client: %q", rec.Body)
			}
			if strings.Contains(logs.String(), "SECRETTOKEN") {
				t.Errorf("the log holds the stream token: %s", logs.String())
			}
			if gotLog := strings.Contains(logs.String(), "panic"); gotLog != tc.wantLog {
				t.Errorf("logged a panic: %v, want %v; log: %s", gotLog, tc.wantLog, logs.String())
			}
		})
	}
}

// TestErrorStatusUnknown: an error errorStatus does not know is a generic
// 500 whose message says nothing of the cause.
func TestErrorStatusUnknown(t *testing.T) {
	status, msg, _ := errorStatus(errors.New("pq: password authentication failed for user hlsgate"))
	if status != http.StatusInternalServerError || msg != "internal server error" {
		t.Errorf("errorStatus = %d, %q", status, msg)
	}
}

// TestStackLogsRecoveredPanic: a panic seen through the whole middleware
// stack is one access line with status 500, and the answer still carries
// the request id and security headers.
func TestStackLogsRecoveredPanic(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	h := chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), s.stack()...)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/streams", nil))

	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", rec.Code)
	}
	if rec.Header().Get("X-Request-Id") == "" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v lack the request id or security headers", rec.Header())
	}
	if n := strings.Count(logs.String(), "msg=request "); n != 1 {
		t.Errorf("%d access lines, want 1: %s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "status=500") {
		t.Errorf("access line does not record the 500: %s", logs.String())
	}
}
