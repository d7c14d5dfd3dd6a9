package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Session is a row of the sessions table: one login. A session is live while
// RevokedAt is nil and ExpiresAt is after now.
type Session struct {
	ID        string // 32 lowercase hex characters
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt *time.Time // nil while not revoked
	UserAgent string
	IP        string
}

// Revocation is one row of the revocation feed: a session revoked and not
// yet expired.
type Revocation struct {
	SessionID string
	ExpiresAt time.Time
	RevokedAt time.Time
}

type sessionRow struct {
	ID        string        `db:"id"`
	UserID    int64         `db:"user_id"`
	CreatedAt int64         `db:"created_at"`
	ExpiresAt int64         `db:"expires_at"`
	RevokedAt sql.NullInt64 `db:"revoked_at"`
	UserAgent string        `db:"user_agent"`
	IP        string        `db:"ip"`
}

func (r sessionRow) session() Session {
	s := Session{
		ID:        r.ID,
		UserID:    r.UserID,
		CreatedAt: fromMillis(r.CreatedAt),
		ExpiresAt: fromMillis(r.ExpiresAt),
		UserAgent: r.UserAgent,
		IP:        r.IP,
	}
	if r.RevokedAt.Valid {
		t := fromMillis(r.RevokedAt.Int64)
		s.RevokedAt = &t
	}
	return s
}

func sessions(rows []sessionRow) []Session {
	out := make([]Session, len(rows))
	for i, r := range rows {
		out[i] = r.session()
	}
	return out
}

const sessionColumns = `id, user_id, created_at, expires_at, revoked_at, user_agent, ip`

// validSessionID reports whether id has the documented form, 32 lowercase
// hex characters. The schema checks only the length; this keeps ids that
// differ only in case from ever being stored.
func validSessionID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// CreateSession inserts s as given, including RevokedAt if set. It returns
// ErrConflict if the id is already in use.
func (db *DB) CreateSession(ctx context.Context, s Session) error {
	if !validSessionID(s.ID) {
		return fmt.Errorf("store: create session: id is not 32 lowercase hex characters")
	}
	if err := db.insertSession(ctx, db.db, s); err != nil {
		return wrap("create session", err)
	}
	return nil
}

func (db *DB) insertSession(ctx context.Context, q sqlx.ExecerContext, s Session) error {
	var revoked sql.NullInt64
	if s.RevokedAt != nil {
		revoked = sql.NullInt64{Int64: toMillis(*s.RevokedAt), Valid: true}
	}
	_, err := q.ExecContext(ctx,
		db.q(`INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		s.ID, s.UserID, toMillis(s.CreatedAt), toMillis(s.ExpiresAt), revoked, s.UserAgent, s.IP)
	return err
}

// SessionByID returns a session whether live, revoked or expired: the
// caller judges. It returns ErrNotFound when there is none.
func (db *DB) SessionByID(ctx context.Context, id string) (Session, error) {
	var r sessionRow
	err := db.db.GetContext(ctx, &r, db.q(`SELECT `+sessionColumns+` FROM sessions WHERE id = ?`), id)
	if err != nil {
		return Session{}, wrap("session by id", err)
	}
	return r.session(), nil
}

// ListLiveSessions returns the user's sessions that are neither revoked nor
// expired at now, newest first.
func (db *DB) ListLiveSessions(ctx context.Context, userID int64, now time.Time) ([]Session, error) {
	var rows []sessionRow
	err := db.db.SelectContext(ctx, &rows, db.q(`SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = ? AND expires_at > ? AND revoked_at IS NULL
		ORDER BY created_at DESC, id DESC`), userID, toMillis(now))
	if err != nil {
		return nil, wrap("list live sessions", err)
	}
	return sessions(rows), nil
}

// CountLiveSessions counts the user's sessions that are neither revoked nor
// expired at now.
func (db *DB) CountLiveSessions(ctx context.Context, userID int64, now time.Time) (int, error) {
	return db.countLiveSessions(ctx, db.db, userID, now)
}

func (db *DB) countLiveSessions(ctx context.Context, q sqlx.QueryerContext, userID int64, now time.Time) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, db.q(`SELECT count(*) FROM sessions
		WHERE user_id = ? AND expires_at > ? AND revoked_at IS NULL`), userID, toMillis(now))
	if err != nil {
		return 0, wrap("count live sessions", err)
	}
	return n, nil
}

// OldestLiveSessions returns up to limit of the user's live sessions, oldest
// first: the ones to evict when the user is over a session cap. A limit of
// zero or less returns none.
func (db *DB) OldestLiveSessions(ctx context.Context, userID int64, now time.Time, limit int) ([]Session, error) {
	return db.oldestLiveSessions(ctx, db.db, userID, now, limit)
}

func (db *DB) oldestLiveSessions(ctx context.Context, q sqlx.QueryerContext, userID int64, now time.Time, limit int) ([]Session, error) {
	if limit <= 0 {
		return []Session{}, nil
	}
	var rows []sessionRow
	err := sqlx.SelectContext(ctx, q, &rows, db.q(`SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = ? AND expires_at > ? AND revoked_at IS NULL
		ORDER BY created_at ASC, id ASC LIMIT ?`), userID, toMillis(now), limit)
	if err != nil {
		return nil, wrap("oldest live sessions", err)
	}
	return sessions(rows), nil
}

// SessionCap bounds a user's live sessions in CreateSessionWithin.
type SessionCap struct {
	Max         int  // live sessions one user may hold; 0 or less: no cap
	EvictOldest bool // at the cap, revoke the oldest instead of refusing
}

// ErrSessionLimit is returned by CreateSessionWithin when the user holds
// the most live sessions the cap allows and the cap refuses new ones.
var ErrSessionLimit = errors.New("store: session limit reached")

// CreateSessionWithin inserts s unless its user would then hold more live
// sessions than c allows. At the cap it revokes the user's oldest live
// sessions and returns them (so the caller can stop their stream tokens at
// once), or it returns ErrSessionLimit. Count and insert are one
// transaction that the user's other logins wait for (PostgreSQL locks the
// user's row; SQLite's BEGIN IMMEDIATE holds the write lock), so logins at
// the same instant cannot all slip under the cap.
func (db *DB) CreateSessionWithin(ctx context.Context, s Session, c SessionCap, now time.Time) ([]Session, error) {
	const op = "create session within cap"
	if c.Max <= 0 {
		return nil, db.CreateSession(ctx, s)
	}
	if !validSessionID(s.ID) {
		return nil, fmt.Errorf("store: %s: id is not 32 lowercase hex characters", op)
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer tx.Rollback()
	if db.engine == EnginePostgres {
		// NO KEY UPDATE: the user's other logins wait, foreign-key checks
		// on the user's rows do not.
		var one int
		err := tx.GetContext(ctx, &one, db.q(`SELECT 1 FROM users WHERE id = ? FOR NO KEY UPDATE`), s.UserID)
		if err != nil {
			return nil, wrap(op, err)
		}
	}
	n, err := db.countLiveSessions(ctx, tx, s.UserID, now)
	if err != nil {
		return nil, err
	}
	var evicted []Session
	if n >= c.Max {
		if !c.EvictOldest {
			return nil, ErrSessionLimit
		}
		if evicted, err = db.oldestLiveSessions(ctx, tx, s.UserID, now, n-c.Max+1); err != nil {
			return nil, err
		}
		for _, old := range evicted {
			_, err := tx.ExecContext(ctx, db.q(`UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`), toMillis(now), old.ID)
			if err != nil {
				return nil, wrap(op, err)
			}
		}
	}
	if err := db.insertSession(ctx, tx, s); err != nil {
		return nil, wrap(op, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, wrap(op, err)
	}
	return evicted, nil
}

// RevokeSession revokes one live session of the user at now. It returns
// ErrNotFound when the session does not exist, belongs to another user, or
// is already revoked or expired, so a caller cannot probe other users'
// session ids.
func (db *DB) RevokeSession(ctx context.Context, userID int64, id string, now time.Time) error {
	res, err := db.db.ExecContext(ctx, db.q(`UPDATE sessions SET revoked_at = ?
		WHERE id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ?`),
		toMillis(now), id, userID, toMillis(now))
	return oneRow("revoke session", res, err)
}

// RevokeUserSessions revokes all of the user's live sessions except the one
// with id exceptID ("" revokes all) and reports how many it revoked.
func (db *DB) RevokeUserSessions(ctx context.Context, userID int64, exceptID string, now time.Time) (int64, error) {
	// No session id is empty (the schema checks the length), so id <> ''
	// matches every row when exceptID is "".
	res, err := db.db.ExecContext(ctx, db.q(`UPDATE sessions SET revoked_at = ?
		WHERE user_id = ? AND id <> ? AND revoked_at IS NULL AND expires_at > ?`),
		toMillis(now), userID, exceptID, toMillis(now))
	if err != nil {
		return 0, wrap("revoke user sessions", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap("revoke user sessions", err)
	}
	return n, nil
}

// revokedSinceQuery is named so a test can check its query plan.
const revokedSinceQuery = `SELECT id, expires_at, revoked_at FROM sessions
	WHERE revoked_at >= ? AND expires_at > ?
	ORDER BY revoked_at, id`

// RevokedSince returns the sessions revoked at or after since that have not
// expired at now, oldest revocation first. It is one range scan of the
// sessions_revoked_at index: rows never revoked are not in the range (NULL),
// so the cost follows the number of recent revocations, not of sessions.
func (db *DB) RevokedSince(ctx context.Context, since, now time.Time) ([]Revocation, error) {
	var rows []struct {
		ID        string `db:"id"`
		ExpiresAt int64  `db:"expires_at"`
		RevokedAt int64  `db:"revoked_at"`
	}
	err := db.db.SelectContext(ctx, &rows, db.q(revokedSinceQuery), toMillis(since), toMillis(now))
	if err != nil {
		return nil, wrap("revoked since", err)
	}
	out := make([]Revocation, len(rows))
	for i, r := range rows {
		out[i] = Revocation{SessionID: r.ID, ExpiresAt: fromMillis(r.ExpiresAt), RevokedAt: fromMillis(r.RevokedAt)}
	}
	return out, nil
}
