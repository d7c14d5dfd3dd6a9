package server_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestErrorShapes: every error the API gives is JSON {"error": "..."}
// with the right status (send checks the shape on every response).
func TestErrorShapes(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		tok := e.user(t, "alice")
		huge := `{"username":"` + strings.Repeat("a", 64<<10) + `","password":"x"}`
		padded := `{}` + strings.Repeat(" ", 64<<10)

		for _, tc := range []struct {
			name         string
			method, path string
			token        bool
			contentType  string // "" keeps application/json
			body         any
			status       int
			want         string // in the message
		}{
			{"unknown route", http.MethodGet, "/api/nope", false, "", nil, http.StatusNotFound, "no such endpoint"},
			{"unknown root route", http.MethodGet, "/", false, "", nil, http.StatusNotFound, "no such endpoint"},
			{"unknown sub-route", http.MethodGet, "/api/streams/1/nope", true, "", nil, http.StatusNotFound, "no such endpoint"},
			{"trailing slash", http.MethodGet, "/api/streams/", true, "", nil, http.StatusNotFound, "no such endpoint"},
			{"GET on login", http.MethodGet, "/api/login", false, "", nil, http.StatusMethodNotAllowed, "method GET not allowed"},
			{"PUT on register", http.MethodPut, "/api/register", false, "", "{}", http.StatusMethodNotAllowed, "method PUT not allowed"},
			{"DELETE on streams", http.MethodDelete, "/api/streams", true, "", nil, http.StatusMethodNotAllowed, "not allowed"},
			{"PATCH on a stream", http.MethodPatch, "/api/streams/1", true, "", "{}", http.StatusMethodNotAllowed, "not allowed"},
			{"body over 64 KiB", http.MethodPost, "/api/register", false, "", huge, http.StatusRequestEntityTooLarge, "larger than 65536 bytes"},
			{"padding over 64 KiB", http.MethodPost, "/api/streams", true, "", padded, http.StatusRequestEntityTooLarge, "larger than 65536 bytes"},
			{"text/plain", http.MethodPost, "/api/register", false, "text/plain", `{"username":"bob","password":"password1"}`, http.StatusUnsupportedMediaType, "application/json"},
			{"form", http.MethodPost, "/api/login", false, "application/x-www-form-urlencoded", "username=bob", http.StatusUnsupportedMediaType, "application/json"},
			{"no Content-Type", http.MethodPost, "/api/streams", true, "none", `{}`, http.StatusUnsupportedMediaType, "application/json"},
			{"bad JSON", http.MethodPost, "/api/register", false, "", `{"username":}`, http.StatusBadRequest, "malformed JSON"},
			{"truncated JSON", http.MethodPost, "/api/register", false, "", `{"username":"bob"`, http.StatusBadRequest, "truncated"},
			{"unknown field", http.MethodPost, "/api/register", false, "", `{"username":"bob","password":"password1","admin":true}`, http.StatusBadRequest, `unknown field "admin"`},
			{"wrong type", http.MethodPost, "/api/login", false, "", `{"username":1,"password":"x"}`, http.StatusBadRequest, `"username" must be a string`},
			{"array", http.MethodPost, "/api/login", false, "", `[]`, http.StatusBadRequest, "must be a JSON object"},
			{"two objects", http.MethodPost, "/api/register", false, "", `{"username":"bob","password":"password1"}{}`, http.StatusBadRequest, "single JSON object"},
			{"trailing garbage", http.MethodPost, "/api/register", false, "", `{"username":"bob","password":"password1"} x`, http.StatusBadRequest, "malformed JSON"},
			{"empty body", http.MethodPost, "/api/register", false, "", "", http.StatusBadRequest, "request body is empty"},
			{"empty body, authed", http.MethodPost, "/api/streams", true, "", "", http.StatusBadRequest, "request body is empty"},
			{"missing token", http.MethodGet, "/api/streams", false, "", nil, http.StatusUnauthorized, "missing access token"},
			{"missing token on logout", http.MethodPost, "/api/logout", false, "", nil, http.StatusUnauthorized, "missing access token"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req := e.newRequest(t, tc.method, tc.path, tc.body)
				switch tc.contentType {
				case "":
					req.Header.Set("Content-Type", "application/json")
				case "none":
					req.Header.Del("Content-Type")
				default:
					req.Header.Set("Content-Type", tc.contentType)
				}
				if tc.token {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				r := e.send(t, req).want(t, tc.status)
				if msg := r.errMsg(t); !strings.Contains(msg, tc.want) {
					t.Errorf("error %q, want it to contain %q", msg, tc.want)
				}
				if tc.status == http.StatusMethodNotAllowed && r.Header.Get("Allow") == "" {
					t.Errorf("405 without an Allow header")
				}
			})
		}

		// A charset parameter is fine.
		req := e.newRequest(t, http.MethodPost, "/api/register", map[string]string{"username": "bob", "password": testPassword})
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		e.send(t, req).want(t, http.StatusCreated)

		// Every response carries the security headers, and API answers are
		// not cached.
		r := e.do(t, http.MethodGet, "/api/streams", tok, nil).want(t, http.StatusOK)
		for h, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
			"X-Frame-Options":        "DENY",
			"Cache-Control":          "no-store",
		} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("%s: %q, want %q", h, got, want)
			}
		}
		if id := r.Header.Get("X-Request-Id"); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-z]+$`).MatchString(id) {
			t.Errorf("X-Request-Id %q, want 8 hex characters, '-' and a counter", id)
		}
		e.do(t, http.MethodGet, "/healthz", "", nil).want(t, http.StatusOK)
	})
}
