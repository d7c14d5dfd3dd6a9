package store

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

// PostgreSQL SQLSTATE codes the store branches on
// (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const (
	pgUniqueViolation      = "23505"
	pgConnectionException  = "08" // class prefix: the whole class means "connection trouble"
	pgAdminShutdown        = "57P01"
	pgCrashShutdown        = "57P02"
	pgCannotConnectNow     = "57P03"
	pgInsufficientResource = "53" // class prefix: too many connections, out of memory, disk full
)

// isUniqueViolation reports whether err is a unique or primary-key
// constraint violation on either engine.
func isUniqueViolation(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == pgUniqueViolation
	}
	return false
}

// isUnavailable reports whether err means the database could not be used
// right now (unreachable, restarting, overloaded, locked past the busy
// timeout) as opposed to a wrong query or a constraint.
func isUnavailable(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, pgConnectionException), strings.HasPrefix(pe.Code, pgInsufficientResource):
			return true
		case pe.Code == pgAdminShutdown, pe.Code == pgCrashShutdown, pe.Code == pgCannotConnectNow:
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF)
}
