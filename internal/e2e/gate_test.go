package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/server"
	"github.com/hlsgate/hlsgate/server/store"
	"github.com/hlsgate/hlsgate/server/store/storetest"
	"github.com/hlsgate/hlsgate/signer"
)

// upstreamUA is what hlsgate sends to origins; a request at the origin with
// any other User-Agent bypassed hlsgate.
const upstreamUA = "hlsgate-e2e/1"

// gate is one running hlsgate replica.
type gate struct {
	srv  *server.Server
	http *httptest.Server
	db   *store.DB
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testKeys(t testing.TB) *signer.KeyRing {
	t.Helper()
	k, err := signer.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := signer.NewKeyRing(k)
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

// startGate runs a replica on the database dsn (schema applied if needed).
func startGate(t testing.TB, dsn string, keys *signer.KeyRing, flags ...string) *gate {
	t.Helper()
	args := append([]string{
		"-bcrypt-cost=4", "-allow-private-upstreams", "-revocation-sync=200ms",
		"-upstream-user-agent=" + upstreamUA, "-upstream-timeout=10s",
	}, flags...)
	cfg, err := server.LoadConfig(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	db, err := store.Open(ctx, dsn, storetest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(ctx, server.Deps{Config: cfg, Log: log, DB: db, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start(ctx)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	t.Cleanup(srv.Close)
	return &gate{srv: srv, http: hs, db: db, logs: logs}
}

// client talks to a replica's API as one user with one User-Agent.
type client struct {
	t     testing.TB
	base  string
	ua    string
	token string
}

func (c *client) call(method, path string, in, out any) int {
	c.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("User-Agent", c.ua)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// signUp registers and logs in a fresh user on g.
func signUp(t testing.TB, g *gate, name, ua string) *client {
	t.Helper()
	c := &client{t: t, base: g.http.URL, ua: ua}
	cred := map[string]string{"username": name, "password": "password-" + name}
	if st := c.call("POST", "/api/register", cred, nil); st != http.StatusCreated {
		t.Fatalf("register %s: %d", name, st)
	}
	c.login(name)
	return c
}

func (c *client) login(name string) {
	c.t.Helper()
	var out struct{ Token string }
	cred := map[string]string{"username": name, "password": "password-" + name}
	if st := c.call("POST", "/api/login", cred, &out); st != http.StatusOK || out.Token == "" {
		c.t.Fatalf("login %s: %d", name, st)
	}
	c.token = out.Token
}

func (c *client) addStream(url string) int64 {
	c.t.Helper()
	var out struct{ ID int64 }
	if st := c.call("POST", "/api/streams", map[string]any{"name": "test", "url": url}, &out); st != http.StatusCreated {
		c.t.Fatalf("add stream %s: %d", url, st)
	}
	return out.ID
}

func (c *client) playback(id int64) string {
	c.t.Helper()
	var out struct{ URL string }
	if st := c.call("GET", fmt.Sprintf("/api/stream?streamID=%d", id), nil, &out); st != http.StatusOK {
		c.t.Fatalf("playback %d: %d", id, st)
	}
	return out.URL
}

// fetch GETs a URL as the client's player (same User-Agent).
func (c *client) fetch(url string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("User-Agent", c.ua)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// onGate rewrites a playback URL of one replica to the same path on another.
func onGate(playbackURL string, g *gate) string {
	i := strings.Index(playbackURL, "/api/hls/")
	return g.http.URL + playbackURL[i:]
}

// waitFor polls cond every 50 ms until it holds or d passes; it returns how
// long that took and whether it held.
func waitFor(d time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > d {
			return time.Since(start), false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
