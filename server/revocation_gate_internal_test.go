package server

import (
	"context"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/auth"
	"github.com/hlsgate/hlsgate/server/store"
	"github.com/hlsgate/hlsgate/signer"
)

type revSource struct{ err error }

func (s revSource) RevokedSince(context.Context, time.Time, time.Time) ([]store.Revocation, error) {
	return nil, s.err
}

// TestRevocationFailMode: while revocations cannot be synced for longer
// than -revocation-max-stale, "open" keeps honouring tokens and "closed"
// refuses them all; a successful sync restores normal service.
func TestRevocationFailMode(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	set := auth.NewRevocationSet(clock)
	if err := set.Sync(context.Background(), revSource{}); err != nil {
		t.Fatal(err)
	}
	revoked := signer.SessionID{9}
	set.Add(revoked, now.Add(time.Hour))
	live := signer.SessionID{1}

	for _, tt := range []struct {
		mode      string
		staleLive bool // is a live session refused once the set is stale?
	}{{"open", false}, {"closed", true}} {
		g := revocationGate{set: set, cfg: Config{RevocationFailMode: tt.mode, RevocationMaxStale: time.Minute}, now: clock}
		if g.Revoked(live) || !g.Revoked(revoked) {
			t.Fatalf("%s, fresh set: live=%v revoked=%v", tt.mode, g.Revoked(live), g.Revoked(revoked))
		}
		g.now = func() time.Time { return now.Add(2 * time.Minute) }
		if got := g.Revoked(live); got != tt.staleLive {
			t.Errorf("%s, stale set: live session refused = %v, want %v", tt.mode, got, tt.staleLive)
		}
		if !g.Revoked(revoked) {
			t.Errorf("%s, stale set: a revoked session plays", tt.mode)
		}
	}
}
