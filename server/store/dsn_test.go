package store_test

import (
	"strings"
	"testing"

	"github.com/hlsgate/hlsgate/server/store"
)

func TestRedactDSN(t *testing.T) {
	tests := []struct {
		name, dsn, want string
	}{
		{"sqlite", "sqlite:/var/lib/hlsgate/hlsgate.db", "sqlite:/var/lib/hlsgate/hlsgate.db"},
		{"no password", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"},
		{"userinfo password", "postgres://app:s3cret@db:5432/hlsgate?sslmode=disable", "postgres://app:xxxxx@db:5432/hlsgate?sslmode=disable"},
		{"postgresql scheme", "postgresql://app:s3cret@db/hlsgate", "postgresql://app:xxxxx@db/hlsgate"},
		{"empty password", "postgres://app:@db/hlsgate", "postgres://app:xxxxx@db/hlsgate"},
		{"at sign in password", "postgres://app:s3c@ret@db/hlsgate", "postgres://app:xxxxx@db/hlsgate"},
		{"query password", "postgres://db/hlsgate?user=app&password=s3cret&sslmode=require", "postgres://db/hlsgate?user=app&password=xxxxx&sslmode=require"},
		{"query sslpassword first", "postgres://db/hlsgate?sslpassword=s3cret&sslmode=verify-full", "postgres://db/hlsgate?sslpassword=xxxxx&sslmode=verify-full"},
		{"both", "postgres://app:s3cret@db/hlsgate?password=s3cret", "postgres://app:xxxxx@db/hlsgate?password=xxxxx"},
		{"bad escape in URL", "postgres://app:s3c%zzret@db/hlsgate", "postgres://app:xxxxx@db/hlsgate"},
		{"keyword form", "host=db user=app password=s3cret dbname=hlsgate", "host=db user=app password=xxxxx dbname=hlsgate"},
		{"keyword form quoted", "password='s3 cret' host=db", "password=xxxxx host=db"},
		{"keyword form spaces", "host=db password = s3cret", "host=db password=xxxxx"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := store.RedactDSN(tt.dsn)
			if got != tt.want {
				t.Errorf("RedactDSN(%q) = %q, want %q", tt.dsn, got, tt.want)
			}
			if strings.Contains(got, "s3") {
				t.Errorf("RedactDSN(%q) = %q still holds the password", tt.dsn, got)
			}
		})
	}
}
