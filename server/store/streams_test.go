package store_test

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/server/store"
)

func TestStreamLifecycle(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		alice := mustUser(t, db, "alice")

		created, err := db.CreateStream(ctx, store.Stream{ID: 777, OwnerID: alice.ID, Name: "cam", URL: "https://o.example/cam.m3u8",
			ExtraOrigins: []string{"https://cdn.example"}}, t0)
		if err != nil {
			t.Fatal(err)
		}
		want := store.Stream{ID: created.ID, OwnerID: alice.ID, Name: "cam", URL: "https://o.example/cam.m3u8",
			ExtraOrigins: []string{"https://cdn.example"}, CreatedAt: t0, UpdatedAt: t0}
		if created.ID <= 0 || created.ID == 777 || !reflect.DeepEqual(created, want) {
			t.Fatalf("CreateStream = %+v, want %+v with an id from the database", created, want)
		}
		second := mustStream(t, db, alice.ID, "second")
		if second.ID <= created.ID {
			t.Errorf("second stream id %d not after first %d", second.ID, created.ID)
		}

		for name, get := range map[string]func() (store.Stream, error){
			"by owner": func() (store.Stream, error) { return db.StreamByOwner(ctx, alice.ID, created.ID) },
			"by id":    func() (store.Stream, error) { return db.StreamByID(ctx, created.ID) },
		} {
			if got, err := get(); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s = %+v, %v; want %+v", name, got, err, want)
			}
		}

		later := t0.Add(time.Hour)
		upd := store.Stream{ID: created.ID, OwnerID: alice.ID, Name: "cam 2", URL: "https://o.example/cam2.m3u8"}
		got, err := db.UpdateStream(ctx, upd, later)
		if err != nil {
			t.Fatal(err)
		}
		want = store.Stream{ID: created.ID, OwnerID: alice.ID, Name: "cam 2", URL: "https://o.example/cam2.m3u8",
			ExtraOrigins: []string{}, CreatedAt: t0, UpdatedAt: later}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("UpdateStream = %+v, want %+v", got, want)
		}

		list, err := db.ListStreams(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || !reflect.DeepEqual(list[0], want) || list[1].ID != second.ID {
			t.Errorf("ListStreams = %+v, want [%+v, stream %d]", list, want, second.ID)
		}

		if err := db.DeleteStream(ctx, alice.ID, created.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.StreamByID(ctx, created.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("StreamByID after delete: error = %v, want ErrNotFound", err)
		}
		if err := db.DeleteStream(ctx, alice.ID, created.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second DeleteStream error = %v, want ErrNotFound", err)
		}
		if _, err := db.UpdateStream(ctx, upd, later); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateStream after delete: error = %v, want ErrNotFound", err)
		}
		// A deleted stream's id is never handed out again, so an old
		// playback token cannot reach a new stream.
		if third := mustStream(t, db, alice.ID, "third"); third.ID <= second.ID {
			t.Errorf("id %d reused after delete (max so far %d)", third.ID, second.ID)
		}
	})
}

func TestStreamOwnerIsolation(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		alice := mustUser(t, db, "alice")
		bob := mustUser(t, db, "bob")
		a := mustStream(t, db, alice.ID, "alices")

		tests := []struct {
			name string
			call func() error
		}{
			{"read", func() error { _, err := db.StreamByOwner(ctx, bob.ID, a.ID); return err }},
			{"update", func() error {
				_, err := db.UpdateStream(ctx, store.Stream{ID: a.ID, OwnerID: bob.ID, Name: "mine", URL: "https://evil.example/"}, t0)
				return err
			}},
			{"delete", func() error { return db.DeleteStream(ctx, bob.ID, a.ID) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.call(); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("bob's %s of alice's stream: error = %v, want ErrNotFound", tt.name, err)
				}
			})
		}

		t.Run("upsert", func(t *testing.T) {
			got, created, err := db.UpsertStreamURL(ctx, bob.ID, a.ID, "https://evil.example/", "bobs", t0)
			if err != nil {
				t.Fatal(err)
			}
			if !created || got.ID == a.ID || got.OwnerID != bob.ID {
				t.Errorf("bob's upsert of alice's id = %+v, created=%v; want a new stream of bob's", got, created)
			}
		})

		if got, err := db.StreamByOwner(ctx, alice.ID, a.ID); err != nil || !reflect.DeepEqual(got, a) {
			t.Errorf("alice's stream after bob's attempts = %+v, %v; want %+v", got, err, a)
		}
		if list, err := db.ListStreams(ctx, alice.ID); err != nil || len(list) != 1 {
			t.Errorf("alice's streams = %+v, %v; want just one", list, err)
		}
		carol := mustUser(t, db, "carol")
		if list, err := db.ListStreams(ctx, carol.ID); err != nil || list == nil || len(list) != 0 {
			t.Errorf("carol's streams = %#v, %v; want an empty, non-nil slice", list, err)
		}
	})
}

func TestUpsertStreamURL(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		alice := mustUser(t, db, "alice")
		existing, err := db.CreateStream(ctx, store.Stream{OwnerID: alice.ID, Name: "cam", URL: "https://o.example/old.m3u8",
			ExtraOrigins: []string{"https://cdn.example"}}, t0)
		if err != nil {
			t.Fatal(err)
		}
		later := t0.Add(time.Minute)

		got, created, err := db.UpsertStreamURL(ctx, alice.ID, existing.ID, "https://o.example/new.m3u8", "unused", later)
		if err != nil {
			t.Fatal(err)
		}
		want := existing
		want.URL, want.UpdatedAt = "https://o.example/new.m3u8", later
		if created || !reflect.DeepEqual(got, want) {
			t.Errorf("upsert of an existing stream = %+v, created=%v; want %+v, false", got, created, want)
		}

		got, created, err = db.UpsertStreamURL(ctx, alice.ID, 424242, "https://o.example/other.m3u8", "stream 424242", later)
		if err != nil {
			t.Fatal(err)
		}
		want = store.Stream{ID: got.ID, OwnerID: alice.ID, Name: "stream 424242", URL: "https://o.example/other.m3u8",
			ExtraOrigins: []string{}, CreatedAt: later, UpdatedAt: later}
		if !created || got.ID == 424242 || got.ID == existing.ID || !reflect.DeepEqual(got, want) {
			t.Errorf("upsert of a missing stream = %+v, created=%v; want %+v, true, with a new id", got, created, want)
		}
		if stored, err := db.StreamByOwner(ctx, alice.ID, got.ID); err != nil || !reflect.DeepEqual(stored, got) {
			t.Errorf("created stream as stored = %+v, %v; want %+v", stored, err, got)
		}
	})
}

func TestExtraOrigins(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		alice := mustUser(t, db, "alice")
		tests := []struct {
			name    string
			origins []string
			want    []string
			wantErr bool
		}{
			{"nil", nil, []string{}, false},
			{"empty", []string{}, []string{}, false},
			{"one", []string{"https://a.example"}, []string{"https://a.example"}, false},
			{"several in order", []string{"https://b.example", "http://a.example:8080", "https://b.example"},
				[]string{"https://b.example", "http://a.example:8080", "https://b.example"}, false},
			{"empty origin", []string{"https://a.example", ""}, nil, true},
			{"line break", []string{"https://a.example\nhttps://b.example"}, nil, true},
			{"carriage return", []string{"https://a.example\r"}, nil, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s, err := db.CreateStream(ctx, store.Stream{OwnerID: alice.ID, Name: tt.name, URL: "https://o.example/", ExtraOrigins: tt.origins}, t0)
				if tt.wantErr {
					if err == nil {
						t.Fatalf("CreateStream accepted %q", tt.origins)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				got, err := db.StreamByID(ctx, s.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.ExtraOrigins == nil || !reflect.DeepEqual(got.ExtraOrigins, tt.want) {
					t.Errorf("ExtraOrigins = %#v, want %#v", got.ExtraOrigins, tt.want)
				}
				// And through UpdateStream, which has its own encoding path.
				s.ExtraOrigins = tt.origins
				if _, err := db.UpdateStream(ctx, s, t0); err != nil {
					t.Fatal(err)
				}
				if got, _ := db.StreamByID(ctx, s.ID); !reflect.DeepEqual(got.ExtraOrigins, tt.want) {
					t.Errorf("after UpdateStream ExtraOrigins = %#v, want %#v", got.ExtraOrigins, tt.want)
				}
			})
		}
	})
}

// TestConcurrentWrites runs transactions and reads from many goroutines at
// once: writers must queue for each other (busy timeout), not fail with
// "database is locked", and no upsert may be lost.
func TestConcurrentWrites(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		alice := mustUser(t, db, "alice")
		shared := mustStream(t, db, alice.ID, "shared")
		const workers, rounds = 8, 20
		var wg sync.WaitGroup
		errs := make(chan error, workers*rounds*2)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range rounds {
					// Update of an existing stream, then create via a missing id.
					if _, _, err := db.UpsertStreamURL(ctx, alice.ID, shared.ID, "https://o.example/x", "x", t0); err != nil {
						errs <- err
					}
					if _, _, err := db.UpsertStreamURL(ctx, alice.ID, -1, "https://o.example/y", "y", t0); err != nil {
						errs <- err
					}
					if _, err := db.ListStreams(ctx, alice.ID); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		list, err := db.ListStreams(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := 1 + workers*rounds; len(list) != want {
			t.Errorf("%d streams, want %d", len(list), want)
		}
	})
}
