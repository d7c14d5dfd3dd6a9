package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/hlsgate/hlsgate/auth"
	"github.com/hlsgate/hlsgate/server/store"
	"github.com/hlsgate/hlsgate/signer"
	"github.com/julienschmidt/httprouter"
)

// authenticate checks the caller's bearer token and session before h runs.
func (s *Server) authenticate(h authedFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) error {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hlsgate"`)
			return errorf(http.StatusUnauthorized, "missing access token: send Authorization: Bearer <token>")
		}
		who, err := s.auth.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			if errors.Is(err, auth.ErrInvalidToken) || errors.Is(err, auth.ErrSessionInvalid) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="hlsgate", error="invalid_token"`)
			}
			return err
		}
		return h(w, r, p, who)
	}
}

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type userJSON struct {
	ID        int64     `json:"id"`
	Username  string    `json:"username"`
	CreatedAt time.Time `json:"created_at"`
}

// handleHealth serves GET /healthz: 200 while the database answers.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if err := s.db.Ping(r.Context()); err != nil {
		return errorf(http.StatusServiceUnavailable, "database unavailable")
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// handleRegister serves POST /api/register.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if s.cfg.Registration != "open" {
		return errorf(http.StatusForbidden, "registration is closed on this server")
	}
	var in credentials
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := auth.ValidateUsername(in.Username); err != nil {
		return badRequest("%s", err.Error())
	}
	if err := auth.ValidatePassword(in.Password); err != nil {
		return badRequest("%s", err.Error())
	}
	u, err := s.auth.Register(r.Context(), in.Username, in.Password)
	if errors.Is(err, store.ErrConflict) {
		return errorf(http.StatusConflict, "username %q is already taken", in.Username)
	}
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "user registered", "user_id", u.ID)
	writeJSON(w, http.StatusCreated, userJSON{ID: u.ID, Username: u.Username, CreatedAt: u.CreatedAt.UTC()})
	return nil
}

// handleLogin serves POST /api/login.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var in credentials
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Username == "" || in.Password == "" {
		return badRequest("username and password are required")
	}
	if len(in.Username) > 64 || len(in.Password) > auth.MaxPasswordLen {
		return auth.ErrBadCredentials
	}
	ip := s.clients.ClientIP(r)
	res, err := s.auth.Login(r.Context(), in.Username, in.Password, r.UserAgent(), ip.String())
	if err != nil {
		var te *auth.ThrottledError
		if errors.As(err, &te) || errors.Is(err, auth.ErrBadCredentials) {
			s.log.WarnContext(r.Context(), "login failed", "ip", ip.String(), "reason", err.Error())
		}
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": res.Token, "expires_at": res.ExpiresAt.UTC()})
	return nil
}

// handleLogout serves POST /api/logout: it revokes the caller's session.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, _ httprouter.Params, who auth.Principal) error {
	if err := s.auth.Revoke(r.Context(), who.UserID, who.SessionID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleLogoutAll serves POST /api/logout-all: it revokes every session of
// the caller, this one included.
func (s *Server) handleLogoutAll(w http.ResponseWriter, r *http.Request, _ httprouter.Params, who auth.Principal) error {
	n, err := s.auth.RevokeAll(r.Context(), who.UserID, signer.SessionID{})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int64{"revoked": n})
	return nil
}

// handleChangePassword serves POST /api/password. Every other session of
// the user is revoked; the caller's stays.
func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request, _ httprouter.Params, who auth.Principal) error {
	var in struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := auth.ValidatePassword(in.New); err != nil {
		return badRequest("new_password: %s", err.Error())
	}
	err := s.auth.ChangePassword(r.Context(), who, in.Current, in.New)
	if errors.Is(err, auth.ErrBadCredentials) {
		return errorf(http.StatusForbidden, "current_password is wrong")
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type sessionJSON struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UserAgent string    `json:"user_agent"`
	IP        string    `json:"ip"`
	Current   bool      `json:"current"`
}

// handleListSessions serves GET /api/sessions: the caller's live sessions.
func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request, _ httprouter.Params, who auth.Principal) error {
	list, err := s.auth.Sessions(r.Context(), who.UserID)
	if err != nil {
		return err
	}
	out := make([]sessionJSON, 0, len(list))
	for _, se := range list {
		out = append(out, sessionJSON{
			ID: se.ID, CreatedAt: se.CreatedAt.UTC(), ExpiresAt: se.ExpiresAt.UTC(),
			UserAgent: se.UserAgent, IP: se.IP, Current: se.ID == who.SessionID.String(),
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
	return nil
}

// handleRevokeSession serves DELETE /api/sessions/{id}.
func (s *Server) handleRevokeSession(w http.ResponseWriter, r *http.Request, p httprouter.Params, who auth.Principal) error {
	id, err := signer.ParseSessionID(p.ByName("id"))
	if err != nil {
		return errorf(http.StatusNotFound, "no such session")
	}
	if err := s.auth.Revoke(r.Context(), who.UserID, id); errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "no such session")
	} else if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
