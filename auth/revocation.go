package auth

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hlsgate/hlsgate/server/store"
	"github.com/hlsgate/hlsgate/signer"
)

// syncOverlap is how far back each incremental sync looks before the start
// of the previous one. It covers transactions that committed late and clock
// skew between replicas; re-reading a revocation is harmless.
const syncOverlap = 30 * time.Second

// RevocationSource is where revocations come from: the sessions table.
type RevocationSource interface {
	RevokedSince(ctx context.Context, since, now time.Time) ([]store.Revocation, error)
}

// RevocationSet is the in-memory set of sessions that were revoked and have
// not yet expired. Readers never lock: the map is replaced whole on change
// (copy on write), which suits a set that is read per segment and written
// per logout.
type RevocationSet struct {
	now func() time.Time

	set atomic.Pointer[map[signer.SessionID]time.Time]
	mu  sync.Mutex // serialises writers

	lastSyncStart time.Time // guarded by mu; zero before the first sync
	lastSuccess   atomic.Int64
}

// NewRevocationSet returns an empty set.
func NewRevocationSet(now func() time.Time) *RevocationSet {
	s := &RevocationSet{now: now}
	m := map[signer.SessionID]time.Time{}
	s.set.Store(&m)
	return s
}

// Revoked reports whether the session is in the set. It does no I/O and no
// allocation.
func (s *RevocationSet) Revoked(id signer.SessionID) bool {
	_, ok := (*s.set.Load())[id]
	return ok
}

// Len returns the number of sessions in the set.
func (s *RevocationSet) Len() int { return len(*s.set.Load()) }

// LastSync returns when the last successful sync finished (zero if never).
func (s *RevocationSet) LastSync() time.Time {
	n := s.lastSuccess.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Add puts a session into the set at once, so a logout takes effect on
// this replica without waiting for the next sync.
func (s *RevocationSet) Add(id signer.SessionID, expires time.Time) {
	s.AddAll(map[signer.SessionID]time.Time{id: expires})
}

// AddAll puts sessions (id to expiry) into the set in one copy of the map.
func (s *RevocationSet) AddAll(sessions map[signer.SessionID]time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.merge(sessions)
}

// merge copies the current set, drops expired entries, adds add and
// publishes the result. Callers hold mu.
func (s *RevocationSet) merge(add map[signer.SessionID]time.Time) {
	now := s.now()
	old := *s.set.Load()
	changed := false
	for id, exp := range add {
		if _, ok := old[id]; !ok && exp.After(now) {
			changed = true
			break
		}
	}
	for _, exp := range old {
		if !exp.After(now) {
			changed = true
			break
		}
	}
	if !changed {
		return
	}
	next := make(map[signer.SessionID]time.Time, len(old)+len(add))
	for id, exp := range old {
		if exp.After(now) {
			next[id] = exp
		}
	}
	for id, exp := range add {
		if exp.After(now) {
			next[id] = exp
		}
	}
	s.set.Store(&next)
}

// Sync reads the revocations since the previous sync (all live ones on the
// first call) and adds them to the set.
func (s *RevocationSet) Sync(ctx context.Context, src RevocationSource) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := s.now()
	since := time.Time{}
	if !s.lastSyncStart.IsZero() {
		since = s.lastSyncStart.Add(-syncOverlap)
	}
	rows, err := src.RevokedSince(ctx, since, start)
	if err != nil {
		return fmt.Errorf("auth: sync revocations: %w", err)
	}
	add := make(map[signer.SessionID]time.Time, len(rows))
	for _, r := range rows {
		id, err := signer.ParseSessionID(r.SessionID)
		if err != nil {
			continue // not a session id this version issues; it cannot be in a token
		}
		add[id] = r.ExpiresAt
	}
	s.merge(add)
	s.lastSyncStart = start
	s.lastSuccess.Store(s.now().UnixNano())
	return nil
}
