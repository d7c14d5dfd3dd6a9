package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/server"
	"github.com/hlsgate/hlsgate/server/store/storetest"
	"github.com/hlsgate/hlsgate/signer"
)

// t0 is the fake clock's start, with whole seconds so that expiry times
// truncated by the server compare exactly.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testPassword is the password testEnv.user registers with.
const testPassword = "correct horse battery"

// fakeClock is a settable clock, safe for the server's goroutines.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer is a bytes.Buffer the logger and the test may share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testEnv is one hlsgate replica on a fresh database behind an
// httptest.Server, with a fake clock and its log captured.
type testEnv struct {
	cfg   server.Config
	ring  *signer.KeyRing
	clock *fakeClock
	logs  *syncBuffer
	ts    *httptest.Server
}

// eachEngine runs f as a subtest per database engine. PostgreSQL skips
// (or fails, when required) inside its subtest.
func eachEngine(t *testing.T, f func(t *testing.T, engine string)) {
	t.Helper()
	for _, engine := range storetest.Engines(t) {
		t.Run(engine, func(t *testing.T) { f(t, engine) })
	}
}

// newEnv builds a replica allowing private upstreams (the usual test
// setting, so origins on 127.0.0.1 work) plus flags.
func newEnv(tb testing.TB, engine string, flags ...string) *testEnv {
	tb.Helper()
	return newEnvFlags(tb, engine, append([]string{"-allow-private-upstreams"}, flags...)...)
}

// newEnvFlags builds a replica with exactly flags (and a cheap bcrypt cost).
func newEnvFlags(tb testing.TB, engine string, flags ...string) *testEnv {
	tb.Helper()
	cfg, err := server.LoadConfig(append([]string{"-bcrypt-cost=4"}, flags...), func(string) string { return "" }, io.Discard)
	if err != nil {
		tb.Fatalf("LoadConfig(%q): %v", flags, err)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	ring, err := signer.NewKeyRing(signer.Key{ID: "k1", Secret: secret})
	if err != nil {
		tb.Fatalf("NewKeyRing: %v", err)
	}
	db := storetest.Open(tb, engine)
	e := &testEnv{cfg: cfg, ring: ring, clock: &fakeClock{now: t0}, logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(context.Background(), server.Deps{Config: cfg, Log: log, DB: db, Keys: ring, Now: e.clock.Now})
	if err != nil {
		tb.Fatalf("server.New: %v", err)
	}
	e.ts = httptest.NewServer(srv.Handler())
	// Cleanups run last-in first-out: the HTTP server stops before the
	// replica closes, and both before storetest closes the database.
	tb.Cleanup(srv.Close)
	tb.Cleanup(e.ts.Close)
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("server log:\n%s", e.logs.String())
		}
	})
	return e
}

// response is a finished HTTP exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// decode unmarshals the body into v, failing tb when it is not JSON.
func (r *response) decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("response body %q is not the JSON expected: %v", r.Body, err)
	}
}

// errMsg returns the "error" of a JSON error body.
func (r *response) errMsg(tb testing.TB) string {
	tb.Helper()
	var e struct {
		Error string `json:"error"`
	}
	r.decode(tb, &e)
	return e.Error
}

// want fails tb unless the status is status.
func (r *response) want(tb testing.TB, status int) *response {
	tb.Helper()
	if r.Status != status {
		tb.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	return r
}

// newRequest builds a request to the test server. A body of type string or
// []byte is sent as is; any other non-nil body is marshalled. Bodies are
// labelled application/json; callers may change the header.
func (e *testEnv) newRequest(tb testing.TB, method, path string, body any) *http.Request {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatalf("marshal %T: %v", body, err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		tb.Fatalf("NewRequest: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// send runs req and checks the rules every API response keeps: no 500
// (the only 500 the API may give is a recovered panic, tested apart), and
// every error a JSON object holding only a non-empty "error".
func (e *testEnv) send(tb testing.TB, req *http.Request) *response {
	tb.Helper()
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	r := &response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	if strings.HasPrefix(req.URL.Path, "/api/hls/") {
		return r // the proxy's responses are the proxy's tests' business
	}
	if r.Status >= 500 {
		tb.Errorf("%s %s: status %d: %s", req.Method, req.URL.Path, r.Status, body)
	}
	if r.Status >= 400 {
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
			tb.Errorf("%s %s: error with Content-Type %q, want application/json", req.Method, req.URL.Path, resp.Header.Get("Content-Type"))
		}
		var shape map[string]any
		if err := json.Unmarshal(body, &shape); err != nil {
			tb.Errorf("%s %s: error body %q is not JSON: %v", req.Method, req.URL.Path, body, err)
		} else if msg, ok := shape["error"].(string); !ok || msg == "" || len(shape) != 1 {
			tb.Errorf(`%s %s: error body %s, want {"error": "<message>"}`, req.Method, req.URL.Path, body)
		}
	}
	return r
}

// do sends a request with an optional bearer token.
func (e *testEnv) do(tb testing.TB, method, path, token string, body any) *response {
	tb.Helper()
	req := e.newRequest(tb, method, path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(tb, req)
}

// register creates an account and fails tb unless that gives 201.
func (e *testEnv) register(tb testing.TB, name, password string) {
	tb.Helper()
	e.do(tb, http.MethodPost, "/api/register", "", map[string]string{"username": name, "password": password}).want(tb, http.StatusCreated)
}

// loginResult is the body of a successful login.
type loginResult struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// login logs in and fails tb unless that gives 200 with a token.
func (e *testEnv) login(tb testing.TB, name, password string) loginResult {
	tb.Helper()
	var out loginResult
	e.do(tb, http.MethodPost, "/api/login", "", map[string]string{"username": name, "password": password}).want(tb, http.StatusOK).decode(tb, &out)
	if out.Token == "" || out.ExpiresAt.IsZero() {
		tb.Fatalf("login of %q gave %+v", name, out)
	}
	return out
}

// user registers name with testPassword and returns a fresh access token.
func (e *testEnv) user(tb testing.TB, name string) string {
	tb.Helper()
	e.register(tb, name, testPassword)
	return e.login(tb, name, testPassword).Token
}

// streamOut is a stream as the API returns it.
type streamOut struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	URL          string    `json:"url"`
	ExtraOrigins []string  `json:"extra_origins"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// createStream adds a stream for the token's user via POST /api/streams.
func (e *testEnv) createStream(tb testing.TB, token, name, url string) streamOut {
	tb.Helper()
	var st streamOut
	e.do(tb, http.MethodPost, "/api/streams", token, map[string]string{"name": name, "url": url}).want(tb, http.StatusCreated).decode(tb, &st)
	return st
}

// listStreams returns the token's user's streams.
func (e *testEnv) listStreams(tb testing.TB, token string) []streamOut {
	tb.Helper()
	var out struct {
		Streams []streamOut `json:"streams"`
	}
	e.do(tb, http.MethodGet, "/api/streams", token, nil).want(tb, http.StatusOK).decode(tb, &out)
	return out.Streams
}
