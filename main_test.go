package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/server"
	"github.com/hlsgate/hlsgate/server/store"
	"github.com/hlsgate/hlsgate/signer"
)

func noenv(string) string { return "" }

func TestKeygen(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"keygen", "-id", "k2"}, noenv, &out, &errb); code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, errb.String())
	}
	k, err := signer.ParseKey(strings.TrimSpace(out.String()))
	if err != nil || k.ID != "k2" || len(k.Secret) < 32 {
		t.Fatalf("keygen printed %q: %v", out.String(), err)
	}
	if code := run(context.Background(), []string{"keygen", "-id", "bad id!"}, noenv, &out, &errb); code == 0 {
		t.Error("keygen accepted a bad key id")
	}
}

func TestServeRefusesBadSettings(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"serve", "-registration", "maybe", "-bind-ip", "sometimes"}, noenv, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{"-registration", "-bind-ip"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr does not name %s:\n%s", want, errb.String())
		}
	}
	if code := run(context.Background(), []string{"frobnicate"}, noenv, &out, &errb); code != 1 {
		t.Errorf("unknown command: exit %d", code)
	}
}

// TestSign mints a URL with `hlsgate sign` and checks the token verifies
// for the named client only, with the key ring the command used.
func TestSign(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "hlsgate.db")
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+dbPath, schema)
	if err != nil {
		t.Fatal(err)
	}
	u, err := db.CreateUser(ctx, "alice", "x", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, err := db.CreateStream(ctx, store.Stream{OwnerID: u.ID, Name: "cam", URL: "https://cdn.example/live/cam/index.m3u8"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	var out, errb bytes.Buffer
	args := []string{"sign", "-db", "sqlite:" + dbPath, "-public-url", "https://video.example", "-user", "alice",
		"-stream", "1", "-ip", "203.0.113.7", "-ua", "VLC/3.0", "-ttl", "1h"}
	if code := run(ctx, args, noenv, &out, &errb); code != 0 {
		t.Fatalf("sign: exit %d: %s", code, errb.String())
	}
	link := strings.TrimSpace(out.String())
	prefix := "https://video.example/api/hls/"
	if !strings.HasPrefix(link, prefix) || !strings.HasSuffix(link, "/1/index.m3u8") {
		t.Fatalf("sign printed %q", link)
	}
	token := strings.Split(strings.TrimPrefix(link, prefix), "/")[0]

	keys, err := os.ReadFile(filepath.Join(dir, server.DefaultKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	ring, err := signer.ParseKeyRing(string(keys))
	if err != nil {
		t.Fatal(err)
	}
	sg := signer.New(ring, signer.Options{BindIP: signer.BindIPExact, BindUA: true})
	c, err := sg.Verify(token, signer.Client{IP: netip.MustParseAddr("203.0.113.7"), UserAgent: "VLC/3.0"}, time.Now())
	if err != nil {
		t.Fatalf("minted token does not verify: %v", err)
	}
	if c.StreamID != st.ID || c.UserID != u.ID || c.Expires.After(time.Now().Add(time.Hour+time.Second)) {
		t.Errorf("claims %+v", c)
	}
	if _, err := sg.Verify(token, signer.Client{IP: netip.MustParseAddr("203.0.113.8"), UserAgent: "VLC/3.0"}, time.Now()); err == nil {
		t.Error("token verified for another IP")
	}

	// The session it opened is a real one: listed, and revocable.
	db, err = store.Open(ctx, "sqlite:"+dbPath, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	live, err := db.ListLiveSessions(ctx, u.ID, time.Now())
	if err != nil || len(live) != 1 || live[0].ID != c.SessionID.String() {
		t.Errorf("sessions after sign: %+v, %v", live, err)
	}

	for _, bad := range [][]string{
		{"sign", "-db", "sqlite:" + dbPath, "-user", "alice", "-stream", "1", "-ua", "x"},                   // no -ip
		{"sign", "-db", "sqlite:" + dbPath, "-user", "bob", "-stream", "1", "-ip", "1.2.3.4", "-ua", "x"},   // no such user
		{"sign", "-db", "sqlite:" + dbPath, "-user", "alice", "-stream", "9", "-ip", "1.2.3.4", "-ua", "x"}, // no such stream
	} {
		out.Reset()
		if code := run(ctx, bad, noenv, &out, &errb); code == 0 || out.Len() != 0 {
			t.Errorf("%v: exit %d, printed %q", bad, code, out.String())
		}
	}
}
