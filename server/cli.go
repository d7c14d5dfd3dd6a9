package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/hlsgate/hlsgate/server/store"
	"github.com/hlsgate/hlsgate/signer"
)

// SignRequest asks for a playback URL minted outside the API, for
// operators' scripts and tests.
type SignRequest struct {
	Username  string
	StreamID  int64
	IP        netip.Addr // the viewer's address (ignored with -bind-ip off)
	UserAgent string     // the viewer's User-Agent (ignored with -bind-ua off)
	TTL       time.Duration
}

// Sign opens a session for the user (listed, revocable like any other) and
// returns a playback URL for one of the user's streams.
func Sign(ctx context.Context, cfg Config, log *slog.Logger, schema string, req SignRequest) (string, time.Time, error) {
	db, err := store.Open(ctx, cfg.DB, schema)
	if err != nil {
		return "", time.Time{}, err
	}
	defer db.Close()
	keys, err := LoadKeys(cfg, log)
	if err != nil {
		return "", time.Time{}, err
	}
	srv, err := New(ctx, Deps{Config: cfg, Log: log, DB: db, Keys: keys})
	if err != nil {
		return "", time.Time{}, err
	}
	defer srv.Close()
	u, err := db.UserByName(ctx, req.Username)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("user %q: %w", req.Username, err)
	}
	st, err := db.StreamByOwner(ctx, u.ID, req.StreamID)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("stream %d of user %q: %w", req.StreamID, req.Username, err)
	}
	sess, err := srv.auth.OpenSession(ctx, u.ID, "hlsgate sign", "")
	if err != nil {
		return "", time.Time{}, err
	}
	sid, err := signer.ParseSessionID(sess.Session.ID)
	if err != nil {
		return "", time.Time{}, err
	}
	base := "http://localhost"
	if _, port, err := net.SplitHostPort(cfg.Listen); err == nil && port != "" {
		base += ":" + port
	}
	if cfg.PublicURL != nil {
		base = cfg.PublicURL.String()
	}
	link, exp := srv.mintPlayback(base, u.ID, sid, sess.ExpiresAt, st, req.TTL, signer.Client{IP: req.IP, UserAgent: req.UserAgent})
	return link, exp, nil
}
