package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/hlsgate/hlsgate/server/store"
	"github.com/hlsgate/hlsgate/signer"
)

// ErrSessionInvalid is returned when an access token's session was revoked,
// has expired or belongs to a disabled user.
var ErrSessionInvalid = errors.New("auth: session revoked or expired")

// ErrSessionLimit is returned by Login when the user already has the most
// live sessions allowed and the policy is to reject new ones.
var ErrSessionLimit = errors.New("auth: too many live sessions")

// Session limit policies.
const (
	LimitRejectNew   = "reject-new"
	LimitEvictOldest = "evict-oldest"
)

// Principal is the authenticated caller of an API request.
type Principal struct {
	UserID         int64
	Username       string
	SessionID      signer.SessionID
	SessionExpires time.Time
}

// Store is what the service needs from the database.
type Store interface {
	CreateUser(ctx context.Context, username, passwordHash string, now time.Time) (store.User, error)
	UserByName(ctx context.Context, username string) (store.User, error)
	UserByID(ctx context.Context, id int64) (store.User, error)
	SetPassword(ctx context.Context, userID int64, hash string) error
	SessionByID(ctx context.Context, id string) (store.Session, error)
	ListLiveSessions(ctx context.Context, userID int64, now time.Time) ([]store.Session, error)
	RevokeSession(ctx context.Context, userID int64, id string, now time.Time) error
	RevokeUserSessions(ctx context.Context, userID int64, exceptID string, now time.Time) (int64, error)
	RevokedSince(ctx context.Context, since, now time.Time) ([]store.Revocation, error)
	BucketStore
	CreateSessionWithin(ctx context.Context, s store.Session, c store.SessionCap, now time.Time) ([]store.Session, error)
}

// Service implements accounts and sessions on top of the store.
type Service struct {
	Store       Store
	Passwords   *Passwords
	Tokens      *Tokens
	Revocations *RevocationSet
	SessionTTL  time.Duration
	Now         func() time.Time
	// MaxSessions bounds each user's live sessions (0: unlimited);
	// LimitPolicy (LimitRejectNew or LimitEvictOldest) says what a login
	// past it does.
	MaxSessions int
	LimitPolicy string

	userThrottle *Throttle
	ipThrottle   *Throttle
}

// NewService wires a service with the default login throttles, kept in
// st so that every replica on the same database shares them.
func NewService(st Store, pw *Passwords, tok *Tokens, rev *RevocationSet, ttl time.Duration, now func() time.Time) *Service {
	return &Service{
		Store: st, Passwords: pw, Tokens: tok, Revocations: rev, SessionTTL: ttl, Now: now,
		userThrottle: NewThrottle(st, DefaultUserRule(), now),
		ipThrottle:   NewThrottle(st, DefaultIPRule(), now),
	}
}

// Register creates an account. The username and password must already be
// valid (see ValidateUsername, ValidatePassword).
func (s *Service) Register(ctx context.Context, username, password string) (store.User, error) {
	hash, err := s.Passwords.Hash(password)
	if err != nil {
		return store.User{}, err
	}
	return s.Store.CreateUser(ctx, username, hash, s.Now())
}

// LoginResult is a new session's access token.
type LoginResult struct {
	Token     string
	ExpiresAt time.Time
	Session   store.Session
}

// Login checks the password and opens a session. Unknown users, disabled
// users and wrong passwords all give ErrBadCredentials after a bcrypt
// comparison; repeated failures per username or client IP give
// *ThrottledError.
func (s *Service) Login(ctx context.Context, username, password, userAgent, ip string) (LoginResult, error) {
	userKey := "u:" + normalizeUsername(username)
	ipKey := "ip:" + throttleAddr(ip)
	if err := s.userThrottle.Take(ctx, userKey); err != nil {
		return LoginResult{}, err
	}
	if err := s.ipThrottle.Take(ctx, ipKey); err != nil {
		s.userThrottle.Refund(ctx, userKey)
		return LoginResult{}, err
	}
	u, err := s.Store.UserByName(ctx, username)
	hash := u.PasswordHash
	switch {
	case errors.Is(err, store.ErrNotFound):
		hash = ""
	case err != nil:
		// Not the caller's fault: give the attempts back.
		s.userThrottle.Refund(ctx, userKey)
		s.ipThrottle.Refund(ctx, ipKey)
		return LoginResult{}, err
	case u.Disabled:
		hash = ""
	}
	if err := s.Passwords.Check(hash, password); err != nil {
		return LoginResult{}, err // the attempts stay spent
	}
	s.userThrottle.Succeed(ctx, userKey)
	s.ipThrottle.Refund(ctx, ipKey)

	res, err := s.openSession(ctx, u.ID, userAgent, ip)
	if err != nil {
		return LoginResult{}, err
	}
	return res, nil
}

// throttleAddr is the throttle key of a client address: IPv6 by its /64,
// which one client usually holds whole, so rotating addresses inside it
// buys no extra guesses.
func throttleAddr(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is6() || a.Is4In6() {
		return ip
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// OpenSession starts a session for a user without a password check, for
// operators' tools (hlsgate sign).
func (s *Service) OpenSession(ctx context.Context, userID int64, userAgent, ip string) (LoginResult, error) {
	return s.openSession(ctx, userID, userAgent, ip)
}

func (s *Service) openSession(ctx context.Context, userID int64, userAgent, ip string) (LoginResult, error) {
	var sid signer.SessionID
	if _, err := rand.Read(sid[:]); err != nil {
		return LoginResult{}, fmt.Errorf("auth: session id: %w", err)
	}
	now := s.Now()
	sess := store.Session{
		ID:        sid.String(),
		UserID:    userID,
		CreatedAt: now,
		ExpiresAt: now.Add(s.SessionTTL).Truncate(time.Second),
		UserAgent: truncate(userAgent, 512),
		IP:        ip,
	}
	limit := store.SessionCap{Max: s.MaxSessions, EvictOldest: s.LimitPolicy == LimitEvictOldest}
	evicted, err := s.Store.CreateSessionWithin(ctx, sess, limit, now)
	if errors.Is(err, store.ErrSessionLimit) {
		return LoginResult{}, ErrSessionLimit
	}
	if err != nil {
		return LoginResult{}, err
	}
	// Evicted sessions' stream tokens stop here at once; other replicas
	// learn of them from the revocation sync.
	s.markRevoked(evicted, "")
	tok, err := s.Tokens.Issue(AccessClaims{UserID: userID, SessionID: sid, IssuedAt: now, ExpiresAt: sess.ExpiresAt})
	if err != nil {
		return LoginResult{}, err
	}
	return LoginResult{Token: tok, ExpiresAt: sess.ExpiresAt, Session: sess}, nil
}

// markRevoked adds sessions, but the one with id except, to the local
// revocation set, so their stream tokens stop here at once.
func (s *Service) markRevoked(sessions []store.Session, except string) {
	ids := make(map[signer.SessionID]time.Time, len(sessions))
	for _, sess := range sessions {
		if id, err := signer.ParseSessionID(sess.ID); err == nil && sess.ID != except {
			ids[id] = sess.ExpiresAt
		}
	}
	s.Revocations.AddAll(ids)
}

// Authenticate verifies an access token and checks, in the database, that
// its session is neither revoked nor expired and its user still enabled.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	c, err := s.Tokens.Verify(token)
	if err != nil {
		return Principal{}, err
	}
	if s.Revocations.Revoked(c.SessionID) {
		return Principal{}, ErrSessionInvalid
	}
	sess, err := s.Store.SessionByID(ctx, c.SessionID.String())
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrSessionInvalid
	}
	if err != nil {
		return Principal{}, err
	}
	now := s.Now()
	if sess.UserID != c.UserID || sess.RevokedAt != nil || !sess.ExpiresAt.After(now) {
		return Principal{}, ErrSessionInvalid
	}
	u, err := s.Store.UserByID(ctx, c.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrSessionInvalid
	}
	if err != nil {
		return Principal{}, err
	}
	if u.Disabled {
		return Principal{}, ErrSessionInvalid
	}
	return Principal{UserID: u.ID, Username: u.Username, SessionID: c.SessionID, SessionExpires: sess.ExpiresAt}, nil
}

// Sessions lists the user's live sessions.
func (s *Service) Sessions(ctx context.Context, userID int64) ([]store.Session, error) {
	return s.Store.ListLiveSessions(ctx, userID, s.Now())
}

// Revoke ends one of the user's sessions, on this replica at once and on
// the others at their next revocation sync.
func (s *Service) Revoke(ctx context.Context, userID int64, id signer.SessionID) error {
	sess, err := s.Store.SessionByID(ctx, id.String())
	if err != nil {
		return err
	}
	if sess.UserID != userID {
		return store.ErrNotFound
	}
	if err := s.Store.RevokeSession(ctx, userID, id.String(), s.Now()); err != nil {
		return err
	}
	s.Revocations.Add(id, sess.ExpiresAt)
	return nil
}

// RevokeAll ends all of the user's sessions except keep (zero = none kept).
func (s *Service) RevokeAll(ctx context.Context, userID int64, keep signer.SessionID) (int64, error) {
	live, err := s.Store.ListLiveSessions(ctx, userID, s.Now())
	if err != nil {
		return 0, err
	}
	except := ""
	if keep != (signer.SessionID{}) {
		except = keep.String()
	}
	n, err := s.Store.RevokeUserSessions(ctx, userID, except, s.Now())
	if err != nil {
		return 0, err
	}
	s.markRevoked(live, except)
	return n, nil
}

// ChangePassword checks the current password, stores the new one and
// revokes every other session of the user. Wrong current passwords count
// against the same per-account throttle as failed logins (and give
// *ThrottledError once it is spent): otherwise a stolen access token would
// be an unthrottled oracle for guessing the password itself.
func (s *Service) ChangePassword(ctx context.Context, p Principal, current, next string) error {
	u, err := s.Store.UserByID(ctx, p.UserID)
	if err != nil {
		return err
	}
	userKey := "u:" + normalizeUsername(u.Username)
	if err := s.userThrottle.Take(ctx, userKey); err != nil {
		return err
	}
	if err := s.Passwords.Check(u.PasswordHash, current); err != nil {
		return err // the attempt stays spent
	}
	s.userThrottle.Refund(ctx, userKey)
	hash, err := s.Passwords.Hash(next)
	if err != nil {
		return err
	}
	if err := s.Store.SetPassword(ctx, p.UserID, hash); err != nil {
		return err
	}
	_, err = s.RevokeAll(ctx, p.UserID, p.SessionID)
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
