// Package server is hlsgate's composition root: it loads the configuration,
// wires the store, auth, signer and proxy packages together, owns the HTTP
// routes of the management API and their middleware, and maps errors to
// HTTP status in one place.
//
// Only package main imports it.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hlsgate/hlsgate/auth"
	"github.com/hlsgate/hlsgate/proxy"
	"github.com/hlsgate/hlsgate/server/store"
	"github.com/hlsgate/hlsgate/signer"
)

// Server is one hlsgate replica.
type Server struct {
	cfg     Config
	log     *slog.Logger
	db      *store.DB
	auth    *auth.Service
	revoked *auth.RevocationSet
	ring    *signer.KeyRing
	signer  *signer.Signer
	streams *proxy.StreamCache
	proxy   *proxy.Handler
	clients *proxy.ClientIPResolver
	now     func() time.Time

	handler http.Handler
}

// Deps are the parts a Server is built from. Now may be nil (time.Now).
type Deps struct {
	Config Config
	Log    *slog.Logger
	DB     *store.DB
	Keys   *signer.KeyRing
	Now    func() time.Time
}

// New builds a replica from its parts. It loads the revocation set once;
// Start keeps it fresh.
func New(ctx context.Context, d Deps) (*Server, error) {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	cfg := d.Config
	pw, err := auth.NewPasswords(cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	tokens, err := auth.NewTokens(d.Keys, "hlsgate", now)
	if err != nil {
		return nil, err
	}
	revoked := auth.NewRevocationSet(now)
	if err := revoked.Sync(ctx, d.DB); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		log:     d.Log,
		db:      d.DB,
		revoked: revoked,
		ring:    d.Keys,
		now:     now,
		clients: proxy.NewClientIPResolver(cfg.TrustedProxies),
	}
	s.auth = auth.NewService(d.DB, pw, tokens, revoked, cfg.SessionTTL, now)
	s.auth.MaxSessions, s.auth.LimitPolicy = cfg.MaxSessionsPerUser, cfg.SessionLimitPolicy
	s.signer = signer.New(d.Keys, signer.Options{
		BindIP:      cfg.BindIP,
		BindUA:      cfg.BindUA,
		Leeway:      cfg.TokenLeeway,
		Revocations: revocationGate{set: revoked, cfg: cfg, now: now},
	})
	s.streams = proxy.NewStreamCache(streamSource{d.DB}, cfg.StreamCacheTTL, now)
	s.proxy, err = proxy.New(proxy.Config{
		Signer:                s.signer,
		Streams:               s.streams,
		Clients:               s.clients,
		Log:                   d.Log,
		Now:                   now,
		PathPrefix:            s.pathPrefix(),
		PlaybackTTL:           cfg.PlaybackTTL,
		MaxPlaylistSize:       cfg.MaxPlaylistSize,
		AllowPrivateUpstreams: cfg.AllowPrivateUpstreams,
		ResponseHeaderTimeout: cfg.UpstreamTimeout,
		UserAgent:             cfg.UpstreamUserAgent,
		CORSOrigins:           cfg.CORSOrigins,
		CacheSize:             cfg.CacheSize,
	})
	if err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the replica's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Start runs the background work (revocation sync) until ctx ends.
func (s *Server) Start(ctx context.Context) {
	go func() {
		t := time.NewTicker(s.cfg.RevocationSync)
		defer t.Stop()
		failing := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			sctx, cancel := context.WithTimeout(ctx, max(s.cfg.RevocationSync, 2*time.Second))
			err := s.revoked.Sync(sctx, s.db)
			cancel()
			switch {
			case err != nil && !failing && ctx.Err() == nil:
				failing = true
				s.log.Warn("revocation sync failing; playback continues from the in-memory set", "err", err, "fail_mode", s.cfg.RevocationFailMode)
			case err == nil && failing:
				failing = false
				s.log.Info("revocation sync recovered", "revoked_sessions", s.revoked.Len())
			}
		}
	}()
}

// Close releases what the server holds (not the database it was given).
func (s *Server) Close() { s.proxy.Close() }

// revocationGate is the signer's view of the revocation set. When the set
// has not synced for longer than -revocation-max-stale, fail mode "closed"
// refuses every session rather than risk honouring a revoked one.
type revocationGate struct {
	set *auth.RevocationSet
	cfg Config
	now func() time.Time
}

func (g revocationGate) Revoked(id signer.SessionID) bool {
	if g.set.Revoked(id) {
		return true
	}
	if g.cfg.RevocationFailMode == "closed" && g.now().Sub(g.set.LastSync()) > g.cfg.RevocationMaxStale {
		return true
	}
	return false
}

// streamSource adapts the store to the proxy's stream lookup.
type streamSource struct{ db *store.DB }

func (s streamSource) Stream(ctx context.Context, id int64) (proxy.Stream, error) {
	st, err := s.db.StreamByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return proxy.Stream{}, proxy.ErrStreamNotFound
	}
	if err != nil {
		return proxy.Stream{}, err
	}
	return proxy.Stream{ID: st.ID, OwnerID: st.OwnerID, URL: st.URL, ExtraOrigins: st.ExtraOrigins}, nil
}

// pathPrefix is the path part of -public-url, so that URIs in rewritten
// playlists work behind a reverse proxy that mounts hlsgate under a path.
func (s *Server) pathPrefix() string {
	if s.cfg.PublicURL == nil {
		return ""
	}
	return s.cfg.PublicURL.Path
}

// Run opens the database and keys named by cfg, serves until ctx ends, then
// shuts down gracefully: stop accepting, let in-flight responses finish up
// to -shutdown-timeout, close the database.
func Run(ctx context.Context, cfg Config, log *slog.Logger, schema string) error {
	db, err := store.Open(ctx, cfg.DB, schema)
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := LoadKeys(cfg, log)
	if err != nil {
		return err
	}
	srv, err := New(ctx, Deps{Config: cfg, Log: log, DB: db, Keys: keys})
	if err != nil {
		return err
	}
	defer srv.Close()
	bg, stop := context.WithCancel(ctx)
	defer stop()
	srv.Start(bg)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if cfg.PublicURL == nil {
		log.Warn("-public-url is unset: playback URLs are built from each request's Host header; set it in production")
	}
	log.Info("hlsgate listening", "addr", ln.Addr().String(), "db", store.RedactDSN(cfg.DB), "registration", cfg.Registration, "bind_ip", cfg.BindIP.String(), "bind_ua", cfg.BindUA)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("shutdown timed out; closing remaining connections", "err", err)
		_ = hs.Close()
	}
	return nil
}
