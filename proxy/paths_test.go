package proxy

import (
	"net/url"
	"strings"
	"testing"
)

func mustStream(t testing.TB, raw string, extra ...string) *resolvedStream {
	t.Helper()
	rs, err := resolveStream(Stream{ID: 7, OwnerID: 1, URL: raw, ExtraOrigins: extra})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestUpstreamURL(t *testing.T) {
	rs := mustStream(t, "https://origin.example/live/cam1/index.m3u8?auth=abc", "https://cdn.example")
	tests := []struct {
		name, rest, query, want string
	}{
		{"entry keeps the stream URL's own query", "index.m3u8", "", "https://origin.example/live/cam1/index.m3u8?auth=abc"},
		{"entry with player query after the stream's", "index.m3u8", "_HLS_msn=5&_HLS_part=1", "https://origin.example/live/cam1/index.m3u8?auth=abc&_HLS_msn=5&_HLS_part=1"},
		{"entry by origin path keeps the stream's query", "~/0/live/cam1/index.m3u8", "", "https://origin.example/live/cam1/index.m3u8?auth=abc"},
		{"segment", "seg1.ts", "", "https://origin.example/live/cam1/seg1.ts"},
		{"subfolder", "v1/prog.m3u8", "", "https://origin.example/live/cam1/v1/prog.m3u8"},
		{"origin root form", "~/0/other/x.ts", "", "https://origin.example/other/x.ts"},
		{"extra origin", "~/1/a/b.ts", "q=1", "https://cdn.example/a/b.ts?q=1"},
		{"escaped space kept", "my%20seg.ts", "", "https://origin.example/live/cam1/my%20seg.ts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := rs.upstreamURL(tt.rest, tt.query)
			if err != nil {
				t.Fatalf("upstreamURL(%q): %v", tt.rest, err)
			}
			if u.String() != tt.want {
				t.Errorf("upstreamURL(%q) = %s, want %s", tt.rest, u, tt.want)
			}
		})
	}
}

func TestUpstreamURLRefusesEscapes(t *testing.T) {
	rs := mustStream(t, "https://origin.example/live/cam1/index.m3u8", "https://cdn.example")
	for _, rest := range []string{
		"../secret", "a/../../b", "./x", "%2e%2e/x", "%2E%2E/x", ".%2e/x", "a%2fb", "a%2F..%2Fb",
		"a\\..\\b", "%5c..%5cb", "/etc/passwd", "//evil.example/x", "a//b", "~/2/x", "~/-1/x", "~/01/x",
		"~/x", "~", "~/1", "a/%00", "seg\x00.ts", "seg\r\n.ts",
	} {
		if u, err := rs.upstreamURL(rest, ""); err == nil {
			t.Errorf("upstreamURL(%q) = %s, want ErrBadPath", rest, u)
		}
	}
}

func TestProxyRestRoundTrip(t *testing.T) {
	rs := mustStream(t, "http://origin.example:8080/live/cam1/index.m3u8", "https://cdn.example")
	tests := []struct {
		target string
		want   string // "" means not proxied
	}{
		{"http://origin.example:8080/live/cam1/seg1.ts", "seg1.ts"},
		{"http://ORIGIN.example:8080/live/cam1/v1/a.m3u8?x=1", "v1/a.m3u8?x=1"},
		{"http://origin.example:8080/live/other/seg.ts", "~/0/live/other/seg.ts"},
		{"http://origin.example:8080/live/cam1/~/x.ts", "~/0/live/cam1/~/x.ts"},
		{"https://cdn.example:443/s/1.ts", "~/1/s/1.ts"},
		{"https://cdn.example/live/cam1/seg1.ts", "~/1/live/cam1/seg1.ts"},
		{"http://origin.example/live/cam1/seg1.ts", ""}, // other port: other origin
		{"https://evil.example/live/cam1/seg1.ts", ""},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			u, err := url.Parse(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			rest, ok := rs.proxyRest(u)
			if tt.want == "" {
				if ok {
					t.Fatalf("proxyRest(%s) = %q, want not proxied", tt.target, rest)
				}
				return
			}
			if !ok || rest != tt.want {
				t.Fatalf("proxyRest(%s) = %q, %v; want %q", tt.target, rest, ok, tt.want)
			}
			p, q, _ := strings.Cut(rest, "?")
			back, err := rs.upstreamURL(p, q)
			if err != nil {
				t.Fatalf("upstreamURL(%q): %v", rest, err)
			}
			if Origin(back) != Origin(u) || back.EscapedPath() != u.EscapedPath() || back.RawQuery != u.RawQuery {
				t.Errorf("round trip %s -> %q -> %s", tt.target, rest, back)
			}
		})
	}
}

func TestRelativeRest(t *testing.T) {
	tests := []struct{ from, to, want string }{
		{"low/index.m3u8", "high/index.m3u8", "../high/index.m3u8"},
		{"low/index.m3u8", "low/other.m3u8", "other.m3u8"},
		{"index.m3u8", "v2/index.m3u8", "v2/index.m3u8"},
		{"~/0/a/b/x.m3u8", "~/0/a/b/y.m3u8", "y.m3u8"},
		{"v1/x.m3u8", "~/0/other/y.m3u8", "../~/0/other/y.m3u8"},
	}
	for _, tt := range tests {
		got := relativeRest(tt.from, tt.to)
		if got != tt.want {
			t.Errorf("relativeRest(%q, %q) = %q, want %q", tt.from, tt.to, got, tt.want)
		}
		// Resolving got against the proxy URL of from must give the proxy URL of to.
		base, _ := url.Parse("http://gate/api/hls/T/7/" + tt.from)
		ref, _ := url.Parse(got)
		if r := base.ResolveReference(ref).Path; r != "/api/hls/T/7/"+tt.to {
			t.Errorf("relativeRest(%q, %q) = %q resolves to %s", tt.from, tt.to, got, r)
		}
	}
}

func TestEntryPathAndOrigin(t *testing.T) {
	if got := EntryPath("https://o.example/live/index.m3u8?x=1"); got != "index.m3u8" {
		t.Errorf("EntryPath = %q", got)
	}
	if got := EntryPath("https://o.example/live/"); got != "" {
		t.Errorf("EntryPath of a folder = %q", got)
	}
	for in, want := range map[string]string{
		"HTTPS://Example.COM:443/x": "https://example.com",
		"http://example.com:80":     "http://example.com",
		"http://example.com:8080/":  "http://example.com:8080",
		"http://[::1]:9000/a":       "http://[::1]:9000",
	} {
		u, _ := url.Parse(in)
		if got := Origin(u); got != want {
			t.Errorf("Origin(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestCheckRestDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = checkRest("v1/sub/segment_00042.ts") }); n != 0 {
		t.Errorf("checkRest allocates %v times per call", n)
	}
}
