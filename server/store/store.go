// Package store owns all SQL of hlsgate: users, sessions and streams, kept in
// SQLite (the default) or PostgreSQL and reached through sqlx.
//
// It returns its own row types (User, Session, Stream) and the sentinel errors
// ErrNotFound, ErrConflict and ErrUnavailable; callers branch on those with
// errors.Is and never see driver types. Queries are constant and
// parameterized, written once with '?' placeholders and rebound for
// PostgreSQL; every call takes a context.
//
// The package must not hold state outside a DB value, must not decide policy
// (who may see what, how long a session lives: callers pass owner ids and
// "now"), and must not log: it returns errors, and never puts a DSN password
// into one (see RedactDSN).
//
// The schema is not written here: it lives in schema.sql at the repository
// root, embedded by main and handed to Open, which applies it idempotently.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	// The database/sql drivers: "pgx" for PostgreSQL, "sqlite3" (cgo) for SQLite.
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"
)

// ErrNotFound reports that the row asked for does not exist, or exists but
// belongs to another owner: callers cannot tell the two apart, by design.
var ErrNotFound = errors.New("store: not found")

// ErrConflict reports a unique constraint violation, such as a username that
// is already taken in any letter case.
var ErrConflict = errors.New("store: conflict")

// ErrUnavailable reports that the database could not be reached or stayed
// locked past the busy timeout: a condition worth retrying later, unlike a
// bad query. It is joined to the driver error, which stays reachable with
// errors.As.
var ErrUnavailable = errors.New("store: database unavailable")

// ErrSchemaTooNew reports that the database records a schema version newer
// than the schema given to Open, i.e. a newer hlsgate has been run on it.
var ErrSchemaTooNew = errors.New("store: database schema is newer than this program")

// Engine names returned by DB.Engine.
const (
	EngineSQLite   = "sqlite"
	EnginePostgres = "postgres"
)

// DB is an open hlsgate database. It is safe for concurrent use.
type DB struct {
	db     *sqlx.DB
	engine string
}

// maxOpenConns bounds one replica's database connections. Every
// transaction does all its work on its own connection, so a full pool
// cannot deadlock.
const maxOpenConns = 20

// beginTx starts a transaction that reads what committed before each of
// its statements (PostgreSQL's READ COMMITTED, whatever the server's
// default), which the lock-then-read transactions of this package rely on:
// under REPEATABLE READ a read after the lock would not see the previous
// holder's commit. SQLite transactions are serialisable anyway.
func (db *DB) beginTx(ctx context.Context) (*sqlx.Tx, error) {
	if db.engine == EnginePostgres {
		return db.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	}
	return db.db.BeginTxx(ctx, nil)
}

// Open opens the database named by dsn and applies schema (the text of
// schema.sql) to it.
//
// Accepted DSNs:
//
//	sqlite:PATH                  a file path, relative or absolute
//	sqlite://PATH                the same (sqlite:///var/lib/x.db is /var/lib/x.db)
//	postgres://... postgresql://...  handed to pgx unchanged
//
// A SQLite path must not contain '?' and must not be ":memory:" (every pooled
// connection would get its own empty database). Its directory must exist:
// Open does not create directories, so a typo fails loudly. Each SQLite
// connection is opened with WAL journaling, foreign keys on, a 5 s busy
// timeout and BEGIN IMMEDIATE transactions (so a transaction that reads
// then writes never fails upgrading its lock).
//
// Errors never contain the DSN's password.
func Open(ctx context.Context, dsn, schema string) (*DB, error) {
	engine, driverName, driverDSN, err := parseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	stmts, version, err := parseSchema(schema, engine)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	sdb, err := sql.Open(driverName, driverDSN)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", RedactDSN(dsn), err)
	}
	// A flood of requests waits for a pooled connection, each bounded by
	// its request's deadline, instead of opening one each until PostgreSQL
	// (max_connections, 100 by default, shared by the fleet) refuses
	// everyone.
	sdb.SetMaxOpenConns(maxOpenConns)
	sdb.SetMaxIdleConns(maxOpenConns)
	sdb.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{db: sqlx.NewDb(sdb, driverName), engine: engine}
	if err := db.Ping(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", RedactDSN(dsn), err)
	}
	if err := db.applySchema(ctx, stmts, version); err != nil {
		sdb.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the database. Calls in progress finish first.
func (db *DB) Close() error {
	if err := db.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Engine reports the database engine: EngineSQLite or EnginePostgres.
func (db *DB) Engine() string { return db.engine }

// Ping checks that the database answers, for readiness probes.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.db.PingContext(ctx); err != nil {
		return wrap("ping", err)
	}
	return nil
}

// q rebinds a query written with '?' placeholders for the engine in use
// ($1, $2, ... on PostgreSQL). sqlx's Rebind is a pure string rewrite.
func (db *DB) q(query string) string { return db.db.Rebind(query) }

// wrap prefixes err with the operation and, where the cause is known,
// joins the matching sentinel: ErrNotFound for sql.ErrNoRows, ErrConflict for
// a unique violation, ErrUnavailable for connection trouble.
func wrap(op string, err error) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store: %s: %w", op, ErrNotFound)
	case isUniqueViolation(err):
		return fmt.Errorf("store: %s: %w: %w", op, ErrConflict, err)
	case isUnavailable(err):
		return fmt.Errorf("store: %s: %w: %w", op, ErrUnavailable, err)
	default:
		return fmt.Errorf("store: %s: %w", op, err)
	}
}
