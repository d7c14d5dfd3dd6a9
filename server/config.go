package server

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/hlsgate/hlsgate/signer"
)

// Config is every setting of a hlsgate replica. Each flag has an HLSGATE_*
// environment twin (flag -session-ttl is HLSGATE_SESSION_TTL); a flag given
// on the command line wins over the environment.
type Config struct {
	Listen       string
	DB           string
	SecretFile   string
	SigningKeys  string   // HLSGATE_SIGNING_KEYS: key ring text; an environment variable only, never a flag, so it stays out of ps
	PublicURL    *url.URL // nil: built from the request's Host header
	Registration string   // "open" or "closed"
	SessionTTL   time.Duration

	PlaybackTTL    time.Duration
	BindIP         signer.BindIP
	BindUA         bool
	TrustedProxies []netip.Prefix
	RevocationSync time.Duration
	TokenLeeway    time.Duration

	CORSOrigins           []string
	AllowPrivateUpstreams bool
	MaxPlaylistSize       int64
	UpstreamTimeout       time.Duration // response-header timeout; outlasts an LL-HLS blocking reload
	UpstreamUserAgent     string
	StreamCacheTTL        time.Duration
	CacheSize             int64

	MaxSessionsPerUser int
	SessionLimitPolicy string // "reject-new" or "evict-oldest"
	RevocationFailMode string // "open" or "closed"
	RevocationMaxStale time.Duration
	ShutdownTimeout    time.Duration
	LogLevel           string
	LogFormat          string
	BcryptCost         int
}

// LoadConfig reads flags from args (without the program name) and the
// environment through getenv, applies defaults and validates the result
// once. Every mistake found is reported, one per line.
func LoadConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("hlsgate serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		c                                Config
		publicURL, bindIP, trusted, cors string
		bindUA                           string
	)
	fs.StringVar(&c.Listen, "listen", ":8080", "address to listen on")
	fs.StringVar(&c.DB, "db", "sqlite:hlsgate.db", "database: sqlite:PATH or a postgres:// URL")
	fs.StringVar(&c.SecretFile, "secret-file", "", "signing key ring file (id:base64key per line, first is primary); default: created beside the SQLite database")
	fs.StringVar(&publicURL, "public-url", "", "base URL handed to clients, e.g. https://video.example.com (default: from the request's Host header)")
	fs.StringVar(&c.Registration, "registration", "open", "open or closed")
	fs.DurationVar(&c.SessionTTL, "session-ttl", 24*time.Hour, "lifetime of a login session")
	fs.DurationVar(&c.PlaybackTTL, "playback-ttl", 10*time.Minute, "lifetime of a playback URL")
	fs.StringVar(&bindIP, "bind-ip", "exact", "bind stream tokens to the client IP: exact, prefix (IPv4 /24) or off; IPv6 always by /64")
	fs.StringVar(&bindUA, "bind-ua", "on", "bind stream tokens to the User-Agent: on or off")
	fs.StringVar(&trusted, "trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-For is believed")
	fs.DurationVar(&c.RevocationSync, "revocation-sync", time.Second, "how often each replica reads new revocations")
	fs.DurationVar(&c.TokenLeeway, "token-leeway", 5*time.Second, "clock skew tolerated on stream token expiry")
	fs.StringVar(&cors, "cors-origins", "*", "comma-separated origins allowed to read /api/hls responses, or *")
	fs.BoolVar(&c.AllowPrivateUpstreams, "allow-private-upstreams", false, "allow upstreams on loopback, private and link-local addresses (LAN cameras)")
	fs.Int64Var(&c.MaxPlaylistSize, "max-playlist-size", 8<<20, "largest playlist read from an origin, in bytes")
	fs.DurationVar(&c.UpstreamTimeout, "upstream-timeout", 30*time.Second, "how long to wait for an origin's response headers")
	fs.StringVar(&c.UpstreamUserAgent, "upstream-user-agent", "hlsgate/1", "User-Agent sent to origins")
	fs.DurationVar(&c.StreamCacheTTL, "stream-cache-ttl", time.Second, "how long a replica trusts its cached copy of a stream's upstream URL")
	fs.Int64Var(&c.CacheSize, "cache-size", 256<<20, "bytes of segments cached in memory per replica; 0 turns the cache off")
	fs.IntVar(&c.MaxSessionsPerUser, "max-sessions-per-user", 0, "live sessions per user; 0 means unlimited")
	fs.StringVar(&c.SessionLimitPolicy, "session-limit-policy", "reject-new", "when the limit is reached: reject-new or evict-oldest")
	fs.StringVar(&c.RevocationFailMode, "revocation-fail-mode", "open", "when revocations cannot be synced for -revocation-max-stale: open keeps playing, closed refuses all stream tokens")
	fs.DurationVar(&c.RevocationMaxStale, "revocation-max-stale", time.Minute, "how old the revocation set may grow before -revocation-fail-mode applies")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight responses may take to finish on shutdown")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	fs.IntVar(&c.BcryptCost, "bcrypt-cost", 10, "bcrypt cost for new password hashes (4-31)")

	// The environment fills in what the command line did not set. Its
	// mistakes are collected with the validation errors below, so one run
	// reports them all.
	var errs []error
	set := map[string]bool{}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		name := EnvName(f.Name)
		if v := getenv(name); v != "" {
			if err := f.Value.Set(v); err != nil {
				// flag's own error ("parse error") names neither the variable
				// nor the flag. Values that fail to parse are durations, numbers
				// and booleans, never secrets, so quoting them is safe.
				errs = append(errs, fmt.Errorf("-%s: invalid value %q from %s: %w", f.Name, v, name, err))
			}
		}
	})
	c.SigningKeys = getenv("HLSGATE_SIGNING_KEYS")

	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Listen == "" {
		bad("-listen: must not be empty")
	}
	if !strings.HasPrefix(c.DB, "sqlite:") && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
		bad("-db: want sqlite:PATH or a postgres:// URL")
	} else if c.DB == "sqlite:" {
		bad("-db: sqlite: needs a file path, e.g. sqlite:hlsgate.db")
	}
	if publicURL != "" {
		u, err := url.Parse(publicURL)
		switch {
		case err != nil:
			bad("-public-url: %v", err)
		case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
			bad("-public-url: want an absolute http(s) URL such as https://video.example.com")
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			bad("-public-url: must not carry a query, fragment or user info")
		default:
			u.Path = strings.TrimSuffix(u.Path, "/")
			u.RawPath = ""
			c.PublicURL = u
		}
	}
	if c.Registration != "open" && c.Registration != "closed" {
		bad("-registration: want open or closed, got %q", c.Registration)
	}
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			bad("-%s: must be positive, got %s", name, d)
		}
	}
	positive("session-ttl", c.SessionTTL)
	positive("playback-ttl", c.PlaybackTTL)
	positive("revocation-sync", c.RevocationSync)
	positive("upstream-timeout", c.UpstreamTimeout)
	positive("stream-cache-ttl", c.StreamCacheTTL)
	positive("shutdown-timeout", c.ShutdownTimeout)
	positive("revocation-max-stale", c.RevocationMaxStale)
	if c.TokenLeeway < 0 || c.TokenLeeway > time.Minute {
		bad("-token-leeway: want 0 to 1m, got %s", c.TokenLeeway)
	}
	if c.PlaybackTTL > c.SessionTTL && c.SessionTTL > 0 {
		bad("-playback-ttl (%s) must not exceed -session-ttl (%s)", c.PlaybackTTL, c.SessionTTL)
	}
	var err error
	if c.BindIP, err = signer.ParseBindIP(bindIP); err != nil {
		bad("-bind-ip: want exact, prefix or off, got %q", bindIP)
	}
	switch bindUA {
	case "on", "true", "1":
		c.BindUA = true
	case "off", "false", "0":
		c.BindUA = false
	default:
		bad("-bind-ua: want on or off, got %q", bindUA)
	}
	for _, s := range splitList(trusted) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			if a, aerr := netip.ParseAddr(s); aerr == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				bad("-trusted-proxies: %q is not a CIDR", s)
				continue
			}
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	c.CORSOrigins = splitList(cors)
	for _, o := range c.CORSOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			bad("-cors-origins: %q is not an origin such as https://app.example.com", o)
		}
	}
	if c.MaxPlaylistSize < 1024 || c.MaxPlaylistSize > 1<<30 {
		bad("-max-playlist-size: want 1024 to 1073741824 bytes, got %d", c.MaxPlaylistSize)
	}
	if c.CacheSize < 0 {
		bad("-cache-size: must not be negative")
	}
	if c.MaxSessionsPerUser < 0 {
		bad("-max-sessions-per-user: must not be negative")
	}
	if c.SessionLimitPolicy != "reject-new" && c.SessionLimitPolicy != "evict-oldest" {
		bad("-session-limit-policy: want reject-new or evict-oldest, got %q", c.SessionLimitPolicy)
	}
	if c.RevocationFailMode != "open" && c.RevocationFailMode != "closed" {
		bad("-revocation-fail-mode: want open or closed, got %q", c.RevocationFailMode)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("-log-level: want debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("-log-format: want text or json, got %q", c.LogFormat)
	}
	if c.BcryptCost < 4 || c.BcryptCost > 31 {
		bad("-bcrypt-cost: want 4 to 31, got %d", c.BcryptCost)
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// EnvName is the environment twin of a flag: -session-ttl is HLSGATE_SESSION_TTL.
func EnvName(flagName string) string {
	return "HLSGATE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
