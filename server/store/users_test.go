package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/server/store"
)

func TestCreateUser(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		alice, err := db.CreateUser(ctx, "Alice", "hash1", t0)
		if err != nil {
			t.Fatal(err)
		}
		want := store.User{ID: alice.ID, Username: "Alice", PasswordHash: "hash1", CreatedAt: t0}
		if alice.ID <= 0 || alice != want {
			t.Fatalf("CreateUser = %+v, want %+v with a positive id", alice, want)
		}

		tests := []struct {
			name    string
			wantErr error
		}{
			{"alice", store.ErrConflict},
			{"ALICE", store.ErrConflict},
			{"Alice", store.ErrConflict},
			{"alice2", nil},
			{"bob", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				u, err := db.CreateUser(ctx, tt.name, "hash2", t0)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("CreateUser(%q) error = %v, want %v", tt.name, err, tt.wantErr)
				}
				if err == nil && (u.ID == alice.ID || u.Username != tt.name) {
					t.Errorf("CreateUser(%q) = %+v", tt.name, u)
				}
			})
		}
	})
}

func TestUserLookup(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		alice := mustUser(t, db, "Alice")
		mustUser(t, db, "bob")

		byName := []struct {
			name    string
			wantErr error
		}{
			{"Alice", nil},
			{"alice", nil},
			{"ALICE", nil},
			{"aLiCe", nil},
			{"alic", store.ErrNotFound},
			{"alice ", store.ErrNotFound},
			{"", store.ErrNotFound},
		}
		for _, tt := range byName {
			t.Run("name/"+tt.name, func(t *testing.T) {
				u, err := db.UserByName(ctx, tt.name)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("UserByName(%q) error = %v, want %v", tt.name, err, tt.wantErr)
				}
				if err == nil && u != alice {
					t.Errorf("UserByName(%q) = %+v, want %+v", tt.name, u, alice)
				}
			})
		}

		t.Run("id", func(t *testing.T) {
			u, err := db.UserByID(ctx, alice.ID)
			if err != nil || u != alice {
				t.Fatalf("UserByID(%d) = %+v, %v; want %+v", alice.ID, u, err, alice)
			}
			if _, err := db.UserByID(ctx, alice.ID+1000); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("UserByID(missing) error = %v, want ErrNotFound", err)
			}
		})
	})
}

func TestUserUpdates(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		alice := mustUser(t, db, "alice")
		bob := mustUser(t, db, "bob")
		const missing = int64(1 << 40)

		if err := db.SetPassword(ctx, alice.ID, "new-hash"); err != nil {
			t.Fatal(err)
		}
		for _, disabled := range []bool{true, true, false} {
			if err := db.SetUserDisabled(ctx, alice.ID, disabled); err != nil {
				t.Fatalf("SetUserDisabled(%v): %v", disabled, err)
			}
			u, err := db.UserByID(ctx, alice.ID)
			if err != nil {
				t.Fatal(err)
			}
			if u.Disabled != disabled || u.PasswordHash != "new-hash" {
				t.Fatalf("after SetUserDisabled(%v): %+v", disabled, u)
			}
		}
		if err := db.SetUserDisabled(ctx, bob.ID, true); err != nil {
			t.Fatal(err)
		}
		if u, _ := db.UserByID(ctx, alice.ID); u.Disabled {
			t.Errorf("disabling bob disabled alice")
		}
		if u, _ := db.UserByID(ctx, bob.ID); !u.Disabled || u.PasswordHash != bob.PasswordHash {
			t.Errorf("bob after disable = %+v", u)
		}

		if err := db.SetPassword(ctx, missing, "x"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetPassword(missing) error = %v, want ErrNotFound", err)
		}
		if err := db.SetUserDisabled(ctx, missing, true); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetUserDisabled(missing) error = %v, want ErrNotFound", err)
		}
		if err := db.DeleteUser(ctx, missing); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteUser(missing) error = %v, want ErrNotFound", err)
		}
	})
}

// TestDeleteUserCascades checks ON DELETE CASCADE, which on SQLite works only
// when every connection has foreign keys switched on.
func TestDeleteUserCascades(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		alice := mustUser(t, db, "alice")
		bob := mustUser(t, db, "bob")
		aliceStream := mustStream(t, db, alice.ID, "a")
		bobStream := mustStream(t, db, bob.ID, "b")
		for i, uid := range []int64{alice.ID, bob.ID} {
			s := store.Session{ID: sessionID(i + 1), UserID: uid, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
			if err := db.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
		}

		// Run the checks several times: each call may use another pooled
		// connection, and each must enforce foreign keys.
		for i := range 4 {
			if _, err := db.CreateStream(ctx, store.Stream{OwnerID: 1 << 40, Name: "orphan", URL: "https://x/"}, t0); err == nil {
				t.Fatalf("try %d: CreateStream for a missing owner succeeded: foreign keys are off", i)
			}
		}
		if err := db.DeleteUser(ctx, alice.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.StreamByID(ctx, aliceStream.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("alice's stream after DeleteUser: error = %v, want ErrNotFound", err)
		}
		if _, err := db.SessionByID(ctx, sessionID(1)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("alice's session after DeleteUser: error = %v, want ErrNotFound", err)
		}
		if _, err := db.StreamByID(ctx, bobStream.ID); err != nil {
			t.Errorf("bob's stream after deleting alice: %v", err)
		}
		if _, err := db.SessionByID(ctx, sessionID(2)); err != nil {
			t.Errorf("bob's session after deleting alice: %v", err)
		}
	})
}
