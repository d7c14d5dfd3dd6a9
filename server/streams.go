package server

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hlsgate/hlsgate/auth"
	"github.com/hlsgate/hlsgate/proxy"
	"github.com/hlsgate/hlsgate/server/store"
	"github.com/hlsgate/hlsgate/signer"
	"github.com/julienschmidt/httprouter"
)

// Limits on stream fields.
const (
	maxURLLen       = 2048
	maxNameLen      = 200
	maxExtraOrigins = 16
)

type streamJSON struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	URL          string    `json:"url"`
	ExtraOrigins []string  `json:"extra_origins"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func toStreamJSON(st store.Stream) streamJSON {
	extra := st.ExtraOrigins
	if extra == nil {
		extra = []string{}
	}
	return streamJSON{ID: st.ID, Name: st.Name, URL: st.URL, ExtraOrigins: extra, CreatedAt: st.CreatedAt.UTC(), UpdatedAt: st.UpdatedAt.UTC()}
}

// streamInput is the body of POST /api/streams and PUT /api/streams/{id}.
type streamInput struct {
	Name         string   `json:"name"`
	URL          string   `json:"url"`
	ExtraOrigins []string `json:"extra_origins"`
}

// checkUpstreamURL says what is wrong with an upstream playlist URL: it must
// be absolute http(s) with a host, no user info, at most 2048 bytes, and
// (unless -allow-private-upstreams) not resolve to a private address.
func (s *Server) checkUpstreamURL(r *http.Request, field, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, badRequest("%s is required", field)
	}
	if len(raw) > maxURLLen {
		return nil, badRequest("%s is longer than %d bytes", field, maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, badRequest("%s is not a valid URL", field)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, badRequest("%s must be an absolute http or https URL", field)
	case u.Host == "" || u.Hostname() == "":
		return nil, badRequest("%s must have a host", field)
	case u.User != nil:
		return nil, badRequest("%s must not carry user info (user:password@); put origin credentials elsewhere", field)
	case u.Fragment != "":
		return nil, badRequest("%s must not have a #fragment", field)
	}
	if err := s.proxy.CheckHost(r.Context(), u.Hostname()); err != nil {
		return nil, badRequest("%s: %s", field, err.Error())
	}
	return u, nil
}

// checkExtraOrigins validates and normalises extra origins ("https://cdn.example.com").
func (s *Server) checkExtraOrigins(r *http.Request, in []string) ([]string, error) {
	if len(in) > maxExtraOrigins {
		return nil, badRequest("extra_origins: at most %d origins", maxExtraOrigins)
	}
	out := make([]string, 0, len(in))
	for _, o := range in {
		u, err := s.checkUpstreamURL(r, "extra_origins", o)
		if err != nil {
			return nil, err
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, badRequest("extra_origins: %q must be an origin only, like https://cdn.example.com", o)
		}
		out = append(out, proxy.Origin(u))
	}
	return out, nil
}

func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if len(name) > maxNameLen {
		return "", badRequest("name is longer than %d bytes", maxNameLen)
	}
	return name, nil
}

// defaultName names a stream after its URL when the caller gave no name.
func defaultName(u *url.URL) string {
	base := u.Path
	if i := strings.LastIndexByte(strings.TrimSuffix(base, "/"), '/'); i >= 0 {
		base = base[:i]
	}
	name := u.Host + base
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	return name
}

func streamID(raw string) (int64, error) {
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, errorf(http.StatusNotFound, "no such stream")
	}
	return id, nil
}

// handleListStreams serves GET /api/streams.
func (s *Server) handleListStreams(w http.ResponseWriter, r *http.Request, _ httprouter.Params, who auth.Principal) error {
	list, err := s.db.ListStreams(r.Context(), who.UserID)
	if err != nil {
		return err
	}
	out := make([]streamJSON, 0, len(list))
	for _, st := range list {
		out = append(out, toStreamJSON(st))
	}
	writeJSON(w, http.StatusOK, map[string]any{"streams": out})
	return nil
}

// handleCreateStream serves POST /api/streams.
func (s *Server) handleCreateStream(w http.ResponseWriter, r *http.Request, _ httprouter.Params, who auth.Principal) error {
	var in streamInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	st, err := s.streamFromInput(r, in)
	if err != nil {
		return err
	}
	st.OwnerID = who.UserID
	st, err = s.db.CreateStream(r.Context(), st, s.now())
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/streams/"+strconv.FormatInt(st.ID, 10))
	writeJSON(w, http.StatusCreated, toStreamJSON(st))
	return nil
}

func (s *Server) streamFromInput(r *http.Request, in streamInput) (store.Stream, error) {
	u, err := s.checkUpstreamURL(r, "url", in.URL)
	if err != nil {
		return store.Stream{}, err
	}
	name, err := checkName(in.Name)
	if err != nil {
		return store.Stream{}, err
	}
	if name == "" {
		name = defaultName(u)
	}
	extra, err := s.checkExtraOrigins(r, in.ExtraOrigins)
	if err != nil {
		return store.Stream{}, err
	}
	return store.Stream{Name: name, URL: u.String(), ExtraOrigins: extra}, nil
}

// handleGetStream serves GET /api/streams/{id}.
func (s *Server) handleGetStream(w http.ResponseWriter, r *http.Request, p httprouter.Params, who auth.Principal) error {
	id, err := streamID(p.ByName("id"))
	if err != nil {
		return err
	}
	st, err := s.ownStream(r, who, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toStreamJSON(st))
	return nil
}

// ownStream loads one of the caller's streams; another user's stream is
// "no such stream", exactly like a missing one.
func (s *Server) ownStream(r *http.Request, who auth.Principal, id int64) (store.Stream, error) {
	st, err := s.db.StreamByOwner(r.Context(), who.UserID, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Stream{}, errorf(http.StatusNotFound, "no such stream")
	}
	return st, err
}

// handlePutStream serves PUT /api/streams/{id}: it replaces name, URL and
// extra origins.
func (s *Server) handlePutStream(w http.ResponseWriter, r *http.Request, p httprouter.Params, who auth.Principal) error {
	id, err := streamID(p.ByName("id"))
	if err != nil {
		return err
	}
	var in streamInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	st, err := s.streamFromInput(r, in)
	if err != nil {
		return err
	}
	st.ID, st.OwnerID = id, who.UserID
	st, err = s.db.UpdateStream(r.Context(), st, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "no such stream")
	}
	if err != nil {
		return err
	}
	s.streams.Invalidate(id)
	writeJSON(w, http.StatusOK, toStreamJSON(st))
	return nil
}

// handleDeleteStream serves DELETE /api/streams/{id}.
func (s *Server) handleDeleteStream(w http.ResponseWriter, r *http.Request, p httprouter.Params, who auth.Principal) error {
	id, err := streamID(p.ByName("id"))
	if err != nil {
		return err
	}
	if err := s.db.DeleteStream(r.Context(), who.UserID, id); errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "no such stream")
	} else if err != nil {
		return err
	}
	s.streams.Invalidate(id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleUpdateStreamLegacy serves POST /api/update-stream
// {"streamID": N, "newUrl": "..."}, the original design's endpoint: it
// updates the caller's stream N, or creates a new stream when the caller has
// none with that id. 200 with the stream when updated, 201 when created.
func (s *Server) handleUpdateStreamLegacy(w http.ResponseWriter, r *http.Request, _ httprouter.Params, who auth.Principal) error {
	var in struct {
		StreamID *int64 `json:"streamID"`
		NewURL   string `json:"newUrl"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.StreamID == nil {
		return badRequest("streamID is required")
	}
	if *in.StreamID < 0 {
		return badRequest("streamID must not be negative")
	}
	u, err := s.checkUpstreamURL(r, "newUrl", in.NewURL)
	if err != nil {
		return err
	}
	st, created, err := s.db.UpsertStreamURL(r.Context(), who.UserID, *in.StreamID, u.String(), defaultName(u), s.now())
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	} else {
		s.streams.Invalidate(st.ID)
	}
	writeJSON(w, status, toStreamJSON(st))
	return nil
}

// handlePlaybackLegacy serves GET /api/stream?streamID=N, the original
// design's playback endpoint.
func (s *Server) handlePlaybackLegacy(w http.ResponseWriter, r *http.Request, _ httprouter.Params, who auth.Principal) error {
	raw := r.URL.Query().Get("streamID")
	if raw == "" {
		return badRequest("query parameter streamID is required")
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return badRequest("streamID must be a positive integer")
	}
	return s.playback(w, r, who, id)
}

// handlePlayback serves GET /api/streams/{id}/playback.
func (s *Server) handlePlayback(w http.ResponseWriter, r *http.Request, p httprouter.Params, who auth.Principal) error {
	id, err := streamID(p.ByName("id"))
	if err != nil {
		return err
	}
	return s.playback(w, r, who, id)
}

// playback mints a playback URL bound to the caller's session, IP and
// User-Agent, valid for -playback-ttl and never past the session's end.
func (s *Server) playback(w http.ResponseWriter, r *http.Request, who auth.Principal, id int64) error {
	st, err := s.ownStream(r, who, id)
	if err != nil {
		return err
	}
	u, exp := s.mintPlayback(s.baseURL(r), who.UserID, who.SessionID, who.SessionExpires, st,
		s.cfg.PlaybackTTL, signer.Client{IP: s.clients.ClientIP(r), UserAgent: r.UserAgent()})
	writeJSON(w, http.StatusOK, map[string]any{"url": u, "expires_at": exp.UTC()})
	return nil
}

// mintPlayback returns a playback URL for stream st under base, bound to
// the session and client, valid for ttl and never past the session's end.
func (s *Server) mintPlayback(base string, userID int64, sid signer.SessionID, sessionExpires time.Time,
	st store.Stream, ttl time.Duration, client signer.Client) (string, time.Time) {
	exp := s.now().Add(ttl).Truncate(time.Second)
	if exp.After(sessionExpires) {
		exp = sessionExpires
	}
	token := s.signer.Sign(signer.Claims{
		UserID: userID, SessionID: sid, StreamID: st.ID, SessionExpires: sessionExpires, Expires: exp,
	}, client)
	return base + proxy.Path(token, st.ID, proxy.EntryPath(st.URL)), exp
}

// baseURL is -public-url, or, when that is unset, the scheme and Host of
// the request (documented: set -public-url in production).
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != nil {
		return s.cfg.PublicURL.String()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
