package auth_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/auth"
	"github.com/hlsgate/hlsgate/server/store"
	"github.com/hlsgate/hlsgate/signer"
)

// fakeSource is a RevocationSource of func fields that records its calls.
type fakeSource struct {
	calls [][2]time.Time // since, now; one goroutine only
	fn    func(since, now time.Time) ([]store.Revocation, error)
}

func (f *fakeSource) RevokedSince(_ context.Context, since, now time.Time) ([]store.Revocation, error) {
	f.calls = append(f.calls, [2]time.Time{since, now})
	return f.fn(since, now)
}

func TestRevocationSetAdd(t *testing.T) {
	clock := newClock()
	set := auth.NewRevocationSet(clock.Now)
	a, b, c := signer.NewSessionID(), signer.NewSessionID(), signer.NewSessionID()

	if set.Revoked(a) || set.Len() != 0 {
		t.Fatalf("a new set is not empty")
	}
	set.Add(a, t0.Add(time.Minute))
	set.Add(b, t0.Add(time.Hour))
	set.Add(c, t0) // already expired: pointless to keep
	if !set.Revoked(a) || !set.Revoked(b) || set.Revoked(c) || set.Len() != 2 {
		t.Errorf("after Add: a %v b %v c %v len %d; want true true false 2", set.Revoked(a), set.Revoked(b), set.Revoked(c), set.Len())
	}
	set.Add(a, t0.Add(time.Minute)) // again: no change
	if set.Len() != 2 {
		t.Errorf("adding twice gave len %d", set.Len())
	}

	// Entries leave once their session has expired (at the next change).
	clock.Advance(time.Minute)
	set.Add(c, t0.Add(2*time.Hour))
	if set.Revoked(a) || !set.Revoked(b) || !set.Revoked(c) || set.Len() != 2 {
		t.Errorf("after a's expiry: a %v b %v c %v len %d; want false true true 2", set.Revoked(a), set.Revoked(b), set.Revoked(c), set.Len())
	}
	if !set.LastSync().IsZero() {
		t.Errorf("LastSync %s before any sync, want zero", set.LastSync())
	}
}

func TestRevocationSetSync(t *testing.T) {
	clock := newClock()
	set := auth.NewRevocationSet(clock.Now)
	a, b := signer.NewSessionID(), signer.NewSessionID()
	rows := []store.Revocation{
		{SessionID: a.String(), ExpiresAt: t0.Add(time.Hour)},
		{SessionID: "not-a-session-id", ExpiresAt: t0.Add(time.Hour)},
	}
	src := &fakeSource{fn: func(since, now time.Time) ([]store.Revocation, error) { return rows, nil }}

	if err := set.Sync(context.Background(), src); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if !set.Revoked(a) || set.Len() != 1 {
		t.Errorf("after the first sync: a %v len %d; want true 1 (malformed ids skipped)", set.Revoked(a), set.Len())
	}
	if got := src.calls[0]; !got[0].IsZero() || !got[1].Equal(t0) {
		t.Errorf("first sync asked since %s now %s; want everything live at %s", got[0], got[1], t0)
	}
	if !set.LastSync().Equal(t0) {
		t.Errorf("LastSync %s, want %s", set.LastSync(), t0)
	}

	// Later syncs ask only for what is new, with an overlap for late commits.
	clock.Advance(time.Minute)
	rows = []store.Revocation{{SessionID: b.String(), ExpiresAt: t0.Add(time.Hour)}}
	if err := set.Sync(context.Background(), src); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if got := src.calls[1]; !got[0].Equal(t0.Add(-30*time.Second)) || !got[1].Equal(t0.Add(time.Minute)) {
		t.Errorf("second sync asked since %s now %s; want since %s", got[0], got[1], t0.Add(-30*time.Second))
	}
	if !set.Revoked(a) || !set.Revoked(b) {
		t.Errorf("a sync forgot an earlier revocation")
	}

	// A failing source keeps the set and LastSync as they were.
	clock.Advance(time.Minute)
	boom := errors.New("connection refused")
	src.fn = func(since, now time.Time) ([]store.Revocation, error) { return nil, boom }
	if err := set.Sync(context.Background(), src); !errors.Is(err, boom) {
		t.Errorf("Sync = %v, want the source's error wrapped", err)
	}
	if !set.Revoked(a) || !set.Revoked(b) || !set.LastSync().Equal(t0.Add(time.Minute)) {
		t.Errorf("a failed sync changed the set or LastSync (%s)", set.LastSync())
	}
	// The next successful sync still reaches back past the failure.
	src.fn = func(since, now time.Time) ([]store.Revocation, error) { return nil, nil }
	if err := set.Sync(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if got := src.calls[3][0]; !got.Equal(t0.Add(time.Minute - 30*time.Second)) {
		t.Errorf("sync after a failure asked since %s, want %s", got, t0.Add(time.Minute-30*time.Second))
	}
}

// TestRevocationSetConcurrent is for -race: readers never lock while
// writers add and sync.
func TestRevocationSetConcurrent(t *testing.T) {
	clock := newClock()
	set := auth.NewRevocationSet(clock.Now)
	src := &fakeSource{fn: func(since, now time.Time) ([]store.Revocation, error) {
		return []store.Revocation{{SessionID: signer.NewSessionID().String(), ExpiresAt: t0.Add(time.Hour)}}, nil
	}}
	ids := make([]signer.SessionID, 100)
	for i := range ids {
		ids[i] = signer.NewSessionID()
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, id := range ids {
				switch {
				case w == 0 && i%10 == 0:
					_ = set.Sync(context.Background(), src)
				case w == 0:
					set.Add(id, t0.Add(time.Hour))
				default:
					_ = set.Revoked(id)
					_ = set.Len()
				}
			}
		}()
	}
	wg.Wait()
	for i, id := range ids {
		if i%10 != 0 && !set.Revoked(id) {
			t.Fatalf("id %d lost", i)
		}
	}
}
