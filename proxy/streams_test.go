package proxy

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowSource answers after its gate opens; it counts calls.
type slowSource struct {
	mu    sync.Mutex
	url   string
	gate  chan struct{}
	calls atomic.Int64
	err   error
}

func (s *slowSource) Stream(ctx context.Context, id int64) (Stream, error) {
	s.calls.Add(1)
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return Stream{}, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return Stream{}, s.err
	}
	return Stream{ID: id, OwnerID: 1, URL: s.url}, nil
}

func (s *slowSource) set(url string, err error) {
	s.mu.Lock()
	s.url, s.err = url, err
	s.mu.Unlock()
}

func TestStreamCache(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ctx := context.Background()

	t.Run("one lookup for concurrent misses", func(t *testing.T) {
		src := &slowSource{url: "http://o/a.m3u8", gate: make(chan struct{})}
		c := NewStreamCache(src, time.Second, clock)
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); c.get(ctx, 1) }()
		}
		time.Sleep(50 * time.Millisecond)
		close(src.gate)
		wg.Wait()
		if n := src.calls.Load(); n != 1 {
			t.Errorf("%d lookups for 20 concurrent misses", n)
		}
	})

	t.Run("stale entry answers while the database hangs, then refreshes", func(t *testing.T) {
		src := &slowSource{url: "http://o/a.m3u8"}
		c := NewStreamCache(src, time.Second, clock)
		if _, err := c.get(ctx, 1); err != nil {
			t.Fatal(err)
		}
		src.gate = make(chan struct{}) // the database now hangs
		src.set("http://o/b.m3u8", nil)
		advance(2 * time.Second)
		start := time.Now()
		for i := 0; i < 10; i++ {
			st, err := c.get(ctx, 1)
			if err != nil || st.URL != "http://o/a.m3u8" {
				t.Fatalf("stale get: %v %v", st, err)
			}
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("stale gets took %s with a hanging database", d)
		}
		eventually(time.Second, func() bool { return src.calls.Load() >= 2 })
		if n := src.calls.Load(); n != 2 {
			t.Errorf("%d lookups, want 1 load and 1 background refresh", n)
		}
		close(src.gate) // the database answers: the refresh lands
		if _, ok := eventually(5*time.Second, func() bool {
			st, _ := c.get(ctx, 1)
			return st != nil && st.URL == "http://o/b.m3u8"
		}); !ok {
			t.Error("the refreshed URL never showed")
		}
	})

	t.Run("an idle cache sees a change on its first request after the TTL", func(t *testing.T) {
		src := &slowSource{url: "http://o/a.m3u8"}
		c := NewStreamCache(src, time.Second, clock)
		c.get(ctx, 1)
		src.set("http://o/b.m3u8", nil) // changed on another replica
		advance(2 * time.Second)        // nobody asked here meanwhile
		if st, err := c.get(ctx, 1); err != nil || st.URL != "http://o/b.m3u8" {
			t.Errorf("first request after the TTL: %v %v, want the new URL", st, err)
		}
	})

	t.Run("a lookup that predates Invalidate does not refill the cache", func(t *testing.T) {
		src := &slowSource{url: "http://o/old.m3u8", gate: make(chan struct{})}
		c := NewStreamCache(src, time.Minute, clock)
		done := make(chan struct{})
		go func() { c.get(ctx, 1); close(done) }()
		eventually(time.Second, func() bool { return src.calls.Load() == 1 })
		src.set("http://o/new.m3u8", nil)
		c.Invalidate(1) // the change lands while the old lookup is under way
		close(src.gate)
		<-done
		src.gate = nil
		if st, err := c.get(ctx, 1); err != nil || st.URL != "http://o/new.m3u8" {
			t.Errorf("after Invalidate: %v %v, want the new URL", st, err)
		}
	})

	t.Run("database error keeps the entry", func(t *testing.T) {
		src := &slowSource{url: "http://o/a.m3u8"}
		c := NewStreamCache(src, time.Second, clock)
		c.get(ctx, 1)
		src.set("", errors.New("connection refused"))
		advance(2 * time.Second)
		c.get(ctx, 1)
		eventually(time.Second, func() bool { c.mu.RLock(); defer c.mu.RUnlock(); return len(c.refreshing) == 0 })
		st, err := c.get(ctx, 1)
		if err != nil || st.URL != "http://o/a.m3u8" {
			t.Errorf("after a failed refresh: %v %v", st, err)
		}
	})

	t.Run("not found is cached, invalidate forgets", func(t *testing.T) {
		src := &slowSource{}
		src.set("", ErrStreamNotFound)
		c := NewStreamCache(src, time.Minute, clock)
		for i := 0; i < 5; i++ {
			if _, err := c.get(ctx, 9); !errors.Is(err, ErrStreamNotFound) {
				t.Fatalf("get: %v", err)
			}
		}
		if n := src.calls.Load(); n != 1 {
			t.Errorf("%d lookups for a missing stream, want 1", n)
		}
		src.set("http://o/new.m3u8", nil)
		c.Invalidate(9)
		if st, err := c.get(ctx, 9); err != nil || st.URL != "http://o/new.m3u8" {
			t.Errorf("after Invalidate: %v %v", st, err)
		}
	})
}
