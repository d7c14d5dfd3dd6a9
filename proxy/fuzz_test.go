package proxy

import (
	"bytes"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/hlsgate/hlsgate/playlist"
)

// FuzzRewriteStaysOnAllowedOrigins: whatever the origin's playlist says,
// every URI hlsgate writes into it leads back through hlsgate to a URL on
// one of the stream's allowed origins.
func FuzzRewriteStaysOnAllowedOrigins(f *testing.F) {
	for _, seed := range []string{
		"#EXTM3U\n#EXTINF:2,\nseg1.ts\n#EXTINF:2,\n../x/seg2.ts?a=b\n#EXTINF:2,\nhttps://cdn.example/s/3.ts\n",
		"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv1/index.m3u8\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"/abs/audio.m3u8\"\n",
		"#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"https://origin.example/keys/k?x=%2F\"\n#EXT-X-MAP:URI=\"//origin.example/init.mp4\"\n",
		"#EXTM3U\n#EXT-X-RENDITION-REPORT:URI=\"../../up/two.m3u8\",LAST-MSN=1\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"~/0/x.ts\"\n",
		"#EXTM3U\n#EXTINF:2,\nhttp://evil.example/seg.ts\n#EXTINF:2,\n%2e%2e/%2e%2e/etc/passwd\n#EXTINF:2,\n/live/cam1/~/odd.ts\n",
		"#EXTM3U\n#EXT-X-DEFINE:NAME=\"h\",VALUE=\"https://cdn.example\"\n#EXTINF:2,\n{$h}/a.ts\n",
	} {
		f.Add([]byte(seed), "v1/index.m3u8")
	}
	rs, err := resolveStream(Stream{ID: 7, OwnerID: 1, URL: "https://origin.example/live/cam1/index.m3u8", ExtraOrigins: []string{"https://cdn.example"}})
	if err != nil {
		f.Fatal(err)
	}
	allowed := map[string]bool{"https://origin.example": true, "https://cdn.example": true}
	const prefix = "/api/hls/T/7/"
	f.Fuzz(func(t *testing.T, body []byte, curRest string) {
		if checkRest(curRest) != nil || strings.ContainsAny(curRest, "?#") {
			return // the proxy refuses such request paths before rewriting
		}
		base, err := rs.upstreamURL(curRest, "")
		if err != nil {
			return
		}
		m := &uriMapper{stream: rs, base: base, prefix: prefix, curRest: curRest}
		var mapped []string
		err = playlist.Rewrite(io.Discard, bytes.NewReader(body), playlist.Options{Map: func(ref playlist.Ref) (string, bool) {
			u, ok := m.mapURI(ref)
			if ok {
				mapped = append(mapped, u)
			}
			return u, ok
		}})
		if err != nil {
			return
		}
		self, err := url.Parse("http://gate" + prefix + curRest)
		if err != nil {
			t.Fatalf("request URL: %v", err)
		}
		for _, u := range mapped {
			ref, err := url.Parse(u)
			if err != nil {
				t.Fatalf("rewritten URI %q does not parse: %v", u, err)
			}
			abs := self.ResolveReference(ref)
			if abs.Host != "gate" {
				t.Fatalf("rewritten URI %q leaves hlsgate: %s", u, abs)
			}
			rest, ok := strings.CutPrefix(abs.EscapedPath(), prefix)
			if !ok {
				t.Fatalf("rewritten URI %q resolves outside the stream's proxy path: %s", u, abs.EscapedPath())
			}
			target, err := rs.upstreamURL(rest, abs.RawQuery)
			if err != nil {
				t.Fatalf("rewritten URI %q is refused by the proxy: %v", u, err)
			}
			if !allowed[Origin(target)] {
				t.Fatalf("rewritten URI %q reaches %s, not an allowed origin", u, target)
			}
		}
	})
}
