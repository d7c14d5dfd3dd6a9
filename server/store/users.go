package store

import (
	"context"
	"time"
)

// User is a row of the users table.
type User struct {
	ID           int64
	Username     string // as registered; unique without regard to case
	PasswordHash string
	CreatedAt    time.Time
	Disabled     bool
}

// userRow is User as stored: times in unix milliseconds, booleans as 0/1.
type userRow struct {
	ID           int64  `db:"id"`
	Username     string `db:"username"`
	PasswordHash string `db:"password_hash"`
	CreatedAt    int64  `db:"created_at"`
	Disabled     int64  `db:"disabled"`
}

func (r userRow) user() User {
	return User{
		ID:           r.ID,
		Username:     r.Username,
		PasswordHash: r.PasswordHash,
		CreatedAt:    fromMillis(r.CreatedAt),
		Disabled:     r.Disabled != 0,
	}
}

const userColumns = `id, username, password_hash, created_at, disabled`

// CreateUser inserts a user. It returns ErrConflict when the username is
// taken in any letter case.
func (db *DB) CreateUser(ctx context.Context, username, passwordHash string, now time.Time) (User, error) {
	var r userRow
	err := db.db.GetContext(ctx, &r,
		db.q(`INSERT INTO users (username, password_hash, created_at, disabled) VALUES (?, ?, ?, 0) RETURNING `+userColumns),
		username, passwordHash, toMillis(now))
	if err != nil {
		return User{}, wrap("create user", err)
	}
	return r.user(), nil
}

// UserByName finds a user by name without regard to case. It returns
// ErrNotFound when there is none.
func (db *DB) UserByName(ctx context.Context, username string) (User, error) {
	var r userRow
	// lower(username) matches the unique index users_username_lower.
	err := db.db.GetContext(ctx, &r,
		db.q(`SELECT `+userColumns+` FROM users WHERE lower(username) = lower(?)`), username)
	if err != nil {
		return User{}, wrap("user by name", err)
	}
	return r.user(), nil
}

// UserByID finds a user by id. It returns ErrNotFound when there is none.
func (db *DB) UserByID(ctx context.Context, id int64) (User, error) {
	var r userRow
	err := db.db.GetContext(ctx, &r, db.q(`SELECT `+userColumns+` FROM users WHERE id = ?`), id)
	if err != nil {
		return User{}, wrap("user by id", err)
	}
	return r.user(), nil
}

// SetPassword replaces a user's password hash. It returns ErrNotFound when
// there is no such user.
func (db *DB) SetPassword(ctx context.Context, userID int64, hash string) error {
	res, err := db.db.ExecContext(ctx, db.q(`UPDATE users SET password_hash = ? WHERE id = ?`), hash, userID)
	return oneRow("set password", res, err)
}

// SetUserDisabled disables or re-enables a user. It does not touch the
// user's sessions: revoking them is the caller's decision. It returns
// ErrNotFound when there is no such user.
func (db *DB) SetUserDisabled(ctx context.Context, userID int64, disabled bool) error {
	res, err := db.db.ExecContext(ctx, db.q(`UPDATE users SET disabled = ? WHERE id = ?`), boolInt(disabled), userID)
	return oneRow("set user disabled", res, err)
}

// DeleteUser deletes a user; the database deletes the user's streams and
// sessions with it (ON DELETE CASCADE). It returns ErrNotFound when there is
// no such user.
func (db *DB) DeleteUser(ctx context.Context, userID int64) error {
	res, err := db.db.ExecContext(ctx, db.q(`DELETE FROM users WHERE id = ?`), userID)
	return oneRow("delete user", res, err)
}
