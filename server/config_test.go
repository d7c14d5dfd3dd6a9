package server_test

import (
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/server"
	"github.com/hlsgate/hlsgate/signer"
)

// envMap is a getenv over a fixed map.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := server.LoadConfig(nil, envMap(nil), io.Discard)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	want := server.Config{
		Listen:             ":8080",
		DB:                 "sqlite:hlsgate.db",
		Registration:       "open",
		SessionTTL:         24 * time.Hour,
		PlaybackTTL:        10 * time.Minute,
		BindIP:             signer.BindIPExact,
		BindUA:             true,
		RevocationSync:     time.Second,
		TokenLeeway:        5 * time.Second,
		CORSOrigins:        []string{"*"},
		MaxPlaylistSize:    8 << 20,
		UpstreamTimeout:    30 * time.Second,
		UpstreamUserAgent:  "hlsgate/1",
		StreamCacheTTL:     time.Second,
		CacheSize:          256 << 20,
		SessionLimitPolicy: "reject-new",
		RevocationFailMode: "open",
		RevocationMaxStale: time.Minute,
		ShutdownTimeout:    30 * time.Second,
		LogLevel:           "info",
		LogFormat:          "text",
		BcryptCost:         10,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestLoadConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c server.Config)
	}{
		{
			name: "flags",
			args: []string{"-listen=127.0.0.1:9000", "-db=postgres://u:p@db/hls", "-public-url=https://video.example.com/tv/", "-registration=closed",
				"-session-ttl=2h", "-playback-ttl=90s", "-bind-ip=prefix", "-bind-ua=off", "-trusted-proxies=10.0.0.0/8, 192.168.1.7",
				"-cors-origins=https://a.example,https://b.example", "-allow-private-upstreams", "-bcrypt-cost=10", "-log-format=json"},
			check: func(t *testing.T, c server.Config) {
				if c.Listen != "127.0.0.1:9000" || c.DB != "postgres://u:p@db/hls" || c.Registration != "closed" ||
					c.SessionTTL != 2*time.Hour || c.PlaybackTTL != 90*time.Second || c.BindIP != signer.BindIPPrefix || c.BindUA ||
					!c.AllowPrivateUpstreams || c.BcryptCost != 10 || c.LogFormat != "json" {
					t.Errorf("got %+v", c)
				}
				if c.PublicURL == nil || c.PublicURL.String() != "https://video.example.com/tv" {
					t.Errorf("PublicURL %v, want https://video.example.com/tv (trailing slash dropped)", c.PublicURL)
				}
				if want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32")}; !reflect.DeepEqual(c.TrustedProxies, want) {
					t.Errorf("TrustedProxies %v, want %v", c.TrustedProxies, want)
				}
				if want := []string{"https://a.example", "https://b.example"}; !reflect.DeepEqual(c.CORSOrigins, want) {
					t.Errorf("CORSOrigins %v, want %v", c.CORSOrigins, want)
				}
			},
		},
		{
			name: "environment twins",
			env: map[string]string{
				"HLSGATE_SESSION_TTL":             "3h",
				"HLSGATE_REGISTRATION":            "closed",
				"HLSGATE_PUBLIC_URL":              "https://v.example.com",
				"HLSGATE_ALLOW_PRIVATE_UPSTREAMS": "true",
				"HLSGATE_MAX_SESSIONS_PER_USER":   "4",
				"HLSGATE_SESSION_LIMIT_POLICY":    "evict-oldest",
				"HLSGATE_BIND_IP":                 "off",
				"HLSGATE_SIGNING_KEYS":            "k1:abc",
				"HLSGATE_DB":                      "sqlite:/var/lib/hlsgate/db",
			},
			check: func(t *testing.T, c server.Config) {
				if c.SessionTTL != 3*time.Hour || c.Registration != "closed" || !c.AllowPrivateUpstreams || c.MaxSessionsPerUser != 4 ||
					c.SessionLimitPolicy != "evict-oldest" || c.BindIP != signer.BindIPOff || c.SigningKeys != "k1:abc" || c.DB != "sqlite:/var/lib/hlsgate/db" {
					t.Errorf("got %+v", c)
				}
				if c.PublicURL == nil || c.PublicURL.String() != "https://v.example.com" {
					t.Errorf("PublicURL %v", c.PublicURL)
				}
			},
		},
		{
			name: "flag beats environment",
			args: []string{"-session-ttl=5h", "-registration=open", "-allow-private-upstreams=false"},
			env:  map[string]string{"HLSGATE_SESSION_TTL": "3h", "HLSGATE_REGISTRATION": "closed", "HLSGATE_ALLOW_PRIVATE_UPSTREAMS": "true", "HLSGATE_LOG_LEVEL": "debug"},
			check: func(t *testing.T, c server.Config) {
				if c.SessionTTL != 5*time.Hour || c.Registration != "open" || c.AllowPrivateUpstreams || c.LogLevel != "debug" {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "signing keys are never a flag",
			args: []string{},
			env:  map[string]string{},
			check: func(t *testing.T, c server.Config) {
				if _, err := server.LoadConfig([]string{"-signing-keys=k1:abc"}, envMap(nil), io.Discard); err == nil {
					t.Errorf("-signing-keys was accepted as a flag")
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := server.LoadConfig(tc.args, envMap(tc.env), io.Discard)
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			tc.check(t, c)
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want []string // each must appear in the error
	}{
		{"empty listen", []string{"-listen="}, nil, []string{"-listen"}},
		{"bad db", []string{"-db=mysql://x"}, nil, []string{"-db", "sqlite:PATH"}},
		{"sqlite without path", []string{"-db=sqlite:"}, nil, []string{"-db", "file path"}},
		{"relative public url", []string{"-public-url=video.example.com"}, nil, []string{"-public-url", "absolute"}},
		{"public url with query", []string{"-public-url=https://v.example.com/?a=1"}, nil, []string{"-public-url", "query"}},
		{"public url with user", []string{"-public-url=https://u:p@v.example.com"}, nil, []string{"-public-url"}},
		{"registration", []string{"-registration=maybe"}, nil, []string{"-registration", `"maybe"`}},
		{"zero session ttl", []string{"-session-ttl=0s"}, nil, []string{"-session-ttl", "positive"}},
		{"negative playback ttl", []string{"-playback-ttl=-1m"}, nil, []string{"-playback-ttl", "positive"}},
		{"playback past session", []string{"-session-ttl=1m", "-playback-ttl=2m"}, nil, []string{"-playback-ttl", "-session-ttl"}},
		{"revocation sync", []string{"-revocation-sync=0s"}, nil, []string{"-revocation-sync"}},
		{"upstream timeout", []string{"-upstream-timeout=0s"}, nil, []string{"-upstream-timeout"}},
		{"stream cache ttl", []string{"-stream-cache-ttl=0s"}, nil, []string{"-stream-cache-ttl"}},
		{"shutdown timeout", []string{"-shutdown-timeout=0s"}, nil, []string{"-shutdown-timeout"}},
		{"revocation max stale", []string{"-revocation-max-stale=0s"}, nil, []string{"-revocation-max-stale"}},
		{"token leeway", []string{"-token-leeway=2m"}, nil, []string{"-token-leeway"}},
		{"bind ip", []string{"-bind-ip=subnet"}, nil, []string{"-bind-ip", `"subnet"`}},
		{"bind ua", []string{"-bind-ua=maybe"}, nil, []string{"-bind-ua"}},
		{"trusted proxies", []string{"-trusted-proxies=10.0.0.0/8,not-a-cidr"}, nil, []string{"-trusted-proxies", `"not-a-cidr"`}},
		{"cors origin with path", []string{"-cors-origins=https://a.example/app"}, nil, []string{"-cors-origins"}},
		{"max playlist size", []string{"-max-playlist-size=10"}, nil, []string{"-max-playlist-size"}},
		{"cache size", []string{"-cache-size=-1"}, nil, []string{"-cache-size"}},
		{"max sessions", []string{"-max-sessions-per-user=-1"}, nil, []string{"-max-sessions-per-user"}},
		{"session limit policy", []string{"-session-limit-policy=drop"}, nil, []string{"-session-limit-policy"}},
		{"revocation fail mode", []string{"-revocation-fail-mode=half"}, nil, []string{"-revocation-fail-mode"}},
		{"log level", []string{"-log-level=trace"}, nil, []string{"-log-level"}},
		{"log format", []string{"-log-format=xml"}, nil, []string{"-log-format"}},
		{"bcrypt cost low", []string{"-bcrypt-cost=3"}, nil, []string{"-bcrypt-cost", "4 to 31"}},
		{"bcrypt cost high", []string{"-bcrypt-cost=32"}, nil, []string{"-bcrypt-cost"}},
		{"unparsable flag", []string{"-session-ttl=soon"}, nil, []string{"-session-ttl"}},
		{"unknown flag", []string{"-no-such-flag"}, nil, []string{"no-such-flag"}},
		{"positional argument", []string{"extra"}, nil, []string{`"extra"`}},
		{"invalid environment value", nil, map[string]string{"HLSGATE_SESSION_TTL": "soon"}, []string{"HLSGATE_SESSION_TTL", "-session-ttl"}},
		{"invalid environment bool", nil, map[string]string{"HLSGATE_ALLOW_PRIVATE_UPSTREAMS": "maybe"}, []string{"HLSGATE_ALLOW_PRIVATE_UPSTREAMS"}},
		{"invalid environment enum", nil, map[string]string{"HLSGATE_REGISTRATION": "maybe"}, []string{"-registration"}},
		{
			"several mistakes together",
			[]string{"-registration=maybe", "-bcrypt-cost=99", "-log-format=xml", "-session-ttl=0s"}, nil,
			[]string{"-registration", "-bcrypt-cost", "-log-format", "-session-ttl"},
		},
		{
			"environment and flag mistakes together",
			[]string{"-log-level=trace"}, map[string]string{"HLSGATE_PLAYBACK_TTL": "soon", "HLSGATE_CACHE_SIZE": "lots"},
			[]string{"-log-level", "HLSGATE_PLAYBACK_TTL", "HLSGATE_CACHE_SIZE"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := server.LoadConfig(tc.args, envMap(tc.env), io.Discard)
			if err == nil {
				t.Fatalf("LoadConfig(%q, %v) succeeded", tc.args, tc.env)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	if got := server.EnvName("session-ttl"); got != "HLSGATE_SESSION_TTL" {
		t.Errorf("EnvName(session-ttl) = %q", got)
	}
}
