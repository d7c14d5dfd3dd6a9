package store

import (
	"database/sql"
	"fmt"
	"time"
)

// toMillis and fromMillis convert between time.Time and the schema's BIGINT
// unix milliseconds. Times read back are in UTC and carry no monotonic
// clock reading; sub-millisecond precision is dropped on the way in.
func toMillis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// boolInt encodes a bool for an INTEGER 0/1 column.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// oneRow finishes an UPDATE or DELETE addressed to one row: ErrNotFound
// when no row matched.
func oneRow(op string, res sql.Result, err error) error {
	if err != nil {
		return wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(op, err)
	}
	if n == 0 {
		return fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	return nil
}
