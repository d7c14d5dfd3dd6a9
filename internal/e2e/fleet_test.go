package e2e

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/server"
	"github.com/hlsgate/hlsgate/server/store"
	"github.com/hlsgate/hlsgate/server/store/storetest"
	"github.com/hlsgate/hlsgate/signer"
)

// TestKeyRotationAcrossReplicas follows the README's rotation procedure on
// two replicas sharing one database.
func TestKeyRotationAcrossReplicas(t *testing.T) {
	k1, _ := signer.GenerateKey("k1")
	k2, _ := signer.GenerateKey("k2")
	ring := func(keys ...signer.Key) *signer.KeyRing {
		r, err := signer.NewKeyRing(keys...)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	dsn := storetest.DSN(t, store.EngineSQLite)
	origin := newPlaylistOrigin(t)

	old := startGate(t, dsn, ring(k1))
	user := signUp(t, old, "rot", "Player/1")
	id := user.addStream(origin.URL + "/live/index.m3u8")
	pbOld := user.playback(id)

	// Step 1: k2 added (second) everywhere: old tokens still verify.
	added := startGate(t, dsn, ring(k1, k2))
	if st, _ := user.fetch(onGate(pbOld, added)); st != http.StatusOK {
		t.Fatalf("step 1: k1 token on a [k1 k2] replica: %d", st)
	}
	// Step 2: k2 promoted: new tokens are k2 tokens, k1 tokens still verify.
	promoted := startGate(t, dsn, ring(k2, k1))
	user.base = promoted.http.URL
	user.login("rot")
	pbNew := user.playback(id)
	if st, _ := user.fetch(onGate(pbOld, promoted)); st != http.StatusOK {
		t.Fatalf("step 2: k1 token on a [k2 k1] replica: %d", st)
	}
	if st, _ := user.fetch(onGate(pbNew, added)); st != http.StatusOK {
		t.Fatalf("step 2: k2 token on a [k1 k2] replica: %d", st)
	}
	// A replica that skipped step 1 refuses k2 tokens: why step 1 comes first.
	if st, _ := user.fetch(onGate(pbNew, old)); st != http.StatusForbidden {
		t.Errorf("k2 token on a [k1] replica: %d, want 403", st)
	}
	// Step 3: k1 removed: k1 tokens are refused, k2 tokens play.
	done := startGate(t, dsn, ring(k2))
	if st, _ := user.fetch(onGate(pbOld, done)); st != http.StatusForbidden {
		t.Errorf("step 3: k1 token on a [k2] replica: %d, want 403", st)
	}
	if st, _ := user.fetch(onGate(pbNew, done)); st != http.StatusOK {
		t.Errorf("step 3: k2 token on a [k2] replica: %d", st)
	}
	if !strings.Contains(done.logs.String(), "unknown token key") {
		t.Error("the refusal of a rotated-out key is not logged as such")
	}
}

// TestGracefulDrain: on shutdown a replica stops accepting connections but
// finishes the segment responses in flight.
func TestGracefulDrain(t *testing.T) {
	origin := newSlowSegmentOrigin(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg, err := server.LoadConfig([]string{"-listen", addr, "-db", "sqlite:" + dir + "/db", "-bcrypt-cost=4",
		"-allow-private-upstreams", "-shutdown-timeout=10s", "-cache-size=0"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- server.Run(ctx, cfg, slog.New(slog.DiscardHandler), storetest.Schema(t)) }()
	base := "http://" + addr
	if _, ok := waitFor(10*time.Second, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	}); !ok {
		t.Fatal("replica did not start")
	}
	c := &client{t: t, base: base, ua: "Player/1"}
	cred := map[string]string{"username": "drain", "password": "password-drain"}
	if st := c.call("POST", "/api/register", cred, nil); st != http.StatusCreated {
		t.Fatalf("register: %d", st)
	}
	c.login("drain")
	pb := c.playback(c.addStream(origin.URL + "/live/index.m3u8"))
	segURL := strings.TrimSuffix(pb, "index.m3u8") + "slow.ts"

	type result struct {
		status int
		n      int64
		err    error
	}
	got := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", segURL, nil)
		req.Header.Set("User-Agent", "Player/1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		got <- result{resp.StatusCode, n, err}
	}()
	waitFor(5*time.Second, func() bool { return origin.started.Load() })
	stop() // what SIGTERM does in main
	// New connections are refused while the segment is still in flight.
	if _, ok := waitFor(5*time.Second, func() bool {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
		}
		return err != nil
	}); !ok {
		t.Error("the replica still accepts connections after shutdown began")
	}
	origin.Release()
	r := <-got
	if r.err != nil || r.status != 200 || r.n != slowSegmentSize {
		t.Errorf("in-flight segment: status %d, %d bytes, err %v; want all %d bytes", r.status, r.n, r.err, slowSegmentSize)
	}
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
}
