package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Stream is a row of the streams table: an upstream HLS URL owned by a user.
type Stream struct {
	ID           int64
	OwnerID      int64
	Name         string
	URL          string
	ExtraOrigins []string // never nil when read from the store
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

type streamRow struct {
	ID           int64  `db:"id"`
	OwnerID      int64  `db:"owner_id"`
	Name         string `db:"name"`
	URL          string `db:"url"`
	ExtraOrigins string `db:"extra_origins"`
	CreatedAt    int64  `db:"created_at"`
	UpdatedAt    int64  `db:"updated_at"`
}

func (r streamRow) stream() Stream {
	return Stream{
		ID:           r.ID,
		OwnerID:      r.OwnerID,
		Name:         r.Name,
		URL:          r.URL,
		ExtraOrigins: decodeOrigins(r.ExtraOrigins),
		CreatedAt:    fromMillis(r.CreatedAt),
		UpdatedAt:    fromMillis(r.UpdatedAt),
	}
}

const streamColumns = `id, owner_id, name, url, extra_origins, created_at, updated_at`

// errBadOrigin is returned for an extra origin that cannot be stored one per
// line. Callers validate origins before they get here, so this is a bug in
// the caller, not a user error: it is deliberately not exported.
var errBadOrigin = errors.New("extra origin is empty or contains a line break")

// encodeOrigins stores origins one per line, "" for none.
func encodeOrigins(origins []string) (string, error) {
	for _, o := range origins {
		if o == "" || strings.ContainsAny(o, "\r\n") {
			return "", fmt.Errorf("%w: %q", errBadOrigin, o)
		}
	}
	return strings.Join(origins, "\n"), nil
}

// decodeOrigins reverses encodeOrigins, returning an empty, non-nil slice
// for "" so JSON encodes it as [] rather than null.
func decodeOrigins(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, "\n")
}

// ListStreams returns the owner's streams ordered by id; an empty slice,
// not nil, when there are none.
func (db *DB) ListStreams(ctx context.Context, ownerID int64) ([]Stream, error) {
	var rows []streamRow
	err := db.db.SelectContext(ctx, &rows,
		db.q(`SELECT `+streamColumns+` FROM streams WHERE owner_id = ? ORDER BY id`), ownerID)
	if err != nil {
		return nil, wrap("list streams", err)
	}
	out := make([]Stream, len(rows))
	for i, r := range rows {
		out[i] = r.stream()
	}
	return out, nil
}

// StreamByOwner returns the owner's stream id. It returns ErrNotFound when
// there is none, including when the stream belongs to another owner.
func (db *DB) StreamByOwner(ctx context.Context, ownerID, id int64) (Stream, error) {
	var r streamRow
	err := db.db.GetContext(ctx, &r,
		db.q(`SELECT `+streamColumns+` FROM streams WHERE id = ? AND owner_id = ?`), id, ownerID)
	if err != nil {
		return Stream{}, wrap("stream by owner", err)
	}
	return r.stream(), nil
}

// StreamByID returns stream id whoever owns it: the proxy's lookup, whose
// caller has already proven access with a signed token. It returns
// ErrNotFound when there is none.
func (db *DB) StreamByID(ctx context.Context, id int64) (Stream, error) {
	var r streamRow
	err := db.db.GetContext(ctx, &r, db.q(`SELECT `+streamColumns+` FROM streams WHERE id = ?`), id)
	if err != nil {
		return Stream{}, wrap("stream by id", err)
	}
	return r.stream(), nil
}

// CreateStream inserts s for s.OwnerID with CreatedAt and UpdatedAt set to
// now; the database assigns the id (s.ID is ignored). It returns the stored
// stream.
func (db *DB) CreateStream(ctx context.Context, s Stream, now time.Time) (Stream, error) {
	return db.createStream(ctx, db.db, "create stream", s, now)
}

// UpdateStream replaces the name, URL and extra origins of the stream
// s.ID owned by s.OwnerID and sets UpdatedAt to now. It returns ErrNotFound
// when the owner has no such stream.
func (db *DB) UpdateStream(ctx context.Context, s Stream, now time.Time) (Stream, error) {
	origins, err := encodeOrigins(s.ExtraOrigins)
	if err != nil {
		return Stream{}, fmt.Errorf("store: update stream: %w", err)
	}
	var r streamRow
	err = db.db.GetContext(ctx, &r, db.q(`UPDATE streams SET name = ?, url = ?, extra_origins = ?, updated_at = ?
		WHERE id = ? AND owner_id = ? RETURNING `+streamColumns),
		s.Name, s.URL, origins, toMillis(now), s.ID, s.OwnerID)
	if err != nil {
		return Stream{}, wrap("update stream", err)
	}
	return r.stream(), nil
}

// UpsertStreamURL implements the original service's update-stream call: it
// sets the URL of the owner's stream id, or, when the owner has no stream
// with that id (none at all, or another owner's), creates a new stream named
// newName with an id chosen by the database. It reports whether it created
// one. The caller must use the returned id, which differs from id on create.
func (db *DB) UpsertStreamURL(ctx context.Context, ownerID, id int64, url, newName string, now time.Time) (Stream, bool, error) {
	const op = "upsert stream url"
	tx, err := db.db.BeginTxx(ctx, nil)
	if err != nil {
		return Stream{}, false, wrap(op, err)
	}
	defer tx.Rollback()

	var rows []streamRow
	err = tx.SelectContext(ctx, &rows, db.q(`UPDATE streams SET url = ?, updated_at = ?
		WHERE id = ? AND owner_id = ? RETURNING `+streamColumns),
		url, toMillis(now), id, ownerID)
	if err != nil {
		return Stream{}, false, wrap(op, err)
	}
	created := len(rows) == 0
	var s Stream
	if created {
		s, err = db.createStream(ctx, tx, op, Stream{OwnerID: ownerID, Name: newName, URL: url}, now)
		if err != nil {
			return Stream{}, false, err
		}
	} else {
		s = rows[0].stream()
	}
	if err := tx.Commit(); err != nil {
		return Stream{}, false, wrap(op, err)
	}
	return s, created, nil
}

// querier is what createStream needs from a *sqlx.DB or a *sqlx.Tx.
type querier interface {
	GetContext(ctx context.Context, dest any, query string, args ...any) error
}

func (db *DB) createStream(ctx context.Context, q querier, op string, s Stream, now time.Time) (Stream, error) {
	origins, err := encodeOrigins(s.ExtraOrigins)
	if err != nil {
		return Stream{}, fmt.Errorf("store: %s: %w", op, err)
	}
	var r streamRow
	err = q.GetContext(ctx, &r, db.q(`INSERT INTO streams (owner_id, name, url, extra_origins, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING `+streamColumns),
		s.OwnerID, s.Name, s.URL, origins, toMillis(now), toMillis(now))
	if err != nil {
		return Stream{}, wrap(op, err)
	}
	return r.stream(), nil
}

// DeleteStream deletes the owner's stream id. It returns ErrNotFound when
// the owner has no such stream.
func (db *DB) DeleteStream(ctx context.Context, ownerID, id int64) error {
	res, err := db.db.ExecContext(ctx, db.q(`DELETE FROM streams WHERE id = ? AND owner_id = ?`), id, ownerID)
	return oneRow("delete stream", res, err)
}
