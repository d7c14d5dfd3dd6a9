package store

import (
	"context"
	"database/sql"
	"errors"
	"hash/fnv"
	"time"
)

// LoginBucket is a row of login_attempts: a token bucket of failed-login
// attempts that every replica shares. The auth package owns its rule; the
// store only keeps it consistent.
type LoginBucket struct {
	Tokens    float64   // attempts left at UpdatedAt
	UpdatedAt time.Time //
	FullAt    time.Time // when the bucket will have refilled; the row may go after it
}

// loginLockClass is the first key of the two-key PostgreSQL advisory locks
// that serialise changes to one login bucket ("hl" in ASCII). Two-key locks
// never collide with the one-key schema lock. Advisory locks are per
// database, not per schema: deployments sharing one database under
// different schemas wait on each other's equal keys, briefly.
const loginLockClass = 0x686c

// prunePerCreate bounds the refilled buckets one new bucket's transaction
// deletes. More are created than deleted only while more than this many
// buckets refill per new one, which the throttle itself prevents.
const prunePerCreate = 100

// UpdateLoginBucket changes key's bucket in one transaction that every
// other change to the same key waits for, on any replica: on PostgreSQL an
// advisory lock on the key (which also covers a key that has no row yet),
// on SQLite BEGIN IMMEDIATE. change sees the bucket (found is false when
// there is none) and returns the bucket to store, or keep=false to store
// nothing. Creating a bucket also deletes the buckets that have refilled,
// so the table holds only keys with recent failures.
func (db *DB) UpdateLoginBucket(ctx context.Context, key string, now time.Time, change func(b LoginBucket, found bool) (next LoginBucket, keep bool)) error {
	const op = "update login bucket"
	tx, err := db.beginTx(ctx)
	if err != nil {
		return wrap(op, err)
	}
	defer tx.Rollback()
	if db.engine == EnginePostgres {
		h := fnv.New32a()
		h.Write([]byte(key))
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, loginLockClass, int32(h.Sum32())); err != nil {
			return wrap(op, err)
		}
	}
	var row struct {
		Tokens    float64 `db:"tokens"`
		UpdatedAt int64   `db:"updated_at"`
		FullAt    int64   `db:"full_at"`
	}
	err = tx.GetContext(ctx, &row, db.q(`SELECT tokens, updated_at, full_at FROM login_attempts WHERE bucket = ?`), key)
	found := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return wrap(op, err)
	}
	cur := LoginBucket{Tokens: row.Tokens, UpdatedAt: fromMillis(row.UpdatedAt), FullAt: fromMillis(row.FullAt)}
	next, keep := change(cur, found)
	if !keep {
		return nil
	}
	if !found {
		// On PostgreSQL, rows another transaction holds are skipped, not
		// waited for: a new key's login never queues behind other keys.
		prune := `DELETE FROM login_attempts WHERE bucket IN (
			SELECT bucket FROM login_attempts WHERE full_at < ? LIMIT ?)`
		if db.engine == EnginePostgres {
			prune = `DELETE FROM login_attempts WHERE bucket IN (
				SELECT bucket FROM login_attempts WHERE full_at < ? LIMIT ? FOR UPDATE SKIP LOCKED)`
		}
		if _, err := tx.ExecContext(ctx, db.q(prune), toMillis(now), prunePerCreate); err != nil {
			return wrap(op, err)
		}
	}
	_, err = tx.ExecContext(ctx, db.q(`INSERT INTO login_attempts (bucket, tokens, updated_at, full_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (bucket) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at, full_at = excluded.full_at`),
		key, next.Tokens, toMillis(next.UpdatedAt), toMillis(next.FullAt))
	if err != nil {
		return wrap(op, err)
	}
	if err := tx.Commit(); err != nil {
		return wrap(op, err)
	}
	return nil
}

// DeleteLoginBucket forgets key's bucket; a key with none is not an error.
func (db *DB) DeleteLoginBucket(ctx context.Context, key string) error {
	if _, err := db.db.ExecContext(ctx, db.q(`DELETE FROM login_attempts WHERE bucket = ?`), key); err != nil {
		return wrap("delete login bucket", err)
	}
	return nil
}
