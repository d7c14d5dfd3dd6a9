package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/signer"
)

// memOrigin answers from memory, so benchmarks measure hlsgate, not the
// network.
type memOrigin map[string][]byte

func (m memOrigin) RoundTrip(r *http.Request) (*http.Response, error) {
	body, ok := m[r.URL.Path]
	if !ok {
		return &http.Response{StatusCode: 404, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	}
	ct := "video/mp2t"
	if strings.HasSuffix(r.URL.Path, ".m3u8") {
		ct = "application/vnd.apple.mpegurl"
	}
	return &http.Response{
		StatusCode: 200, Header: http.Header{"Content-Type": {ct}}, ContentLength: int64(len(body)),
		Body: io.NopCloser(bytes.NewReader(body)), Request: r,
	}, nil
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Flush()                      {}

func benchHandler(b *testing.B, cacheSize int64) (*Handler, string) {
	b.Helper()
	seg := bytes.Repeat([]byte{0x47}, 200<<10)
	var pl strings.Builder
	pl.WriteString("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:100\n")
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&pl, "#EXTINF:2.000,\nseg%d.ts\n", 100+i)
	}
	origin := memOrigin{"/live/index.m3u8": []byte(pl.String()), "/live/seg.ts": seg}
	ring, _ := signer.NewKeyRing(signer.Key{ID: "k1", Secret: bytes.Repeat([]byte("k"), 32)})
	sg := signer.New(ring, signer.Options{BindUA: true})
	now := time.Unix(1_800_000_000, 0)
	streams := &fakeStreams{m: map[int64]Stream{1: {ID: 1, OwnerID: 1, URL: "http://origin.example/live/index.m3u8"}}}
	h, err := New(Config{
		Signer: sg, Streams: NewStreamCache(streams, time.Hour, func() time.Time { return now }),
		Now: func() time.Time { return now }, Transport: origin, CacheSize: cacheSize,
	})
	if err != nil {
		b.Fatal(err)
	}
	tok := sg.Sign(signer.Claims{UserID: 1, SessionID: signer.SessionID{1}, StreamID: 1,
		SessionExpires: now.Add(time.Hour), Expires: now.Add(time.Hour)},
		signer.Client{IP: netip.MustParseAddr("192.0.2.1"), UserAgent: testUA})
	return h, "/api/hls/" + tok + "/1/"
}

func benchRequest(b *testing.B, h *Handler, path string, wantBytes int64) {
	b.Helper()
	u, _ := url.Parse("http://gate" + path)
	b.ReportAllocs()
	b.SetBytes(wantBytes)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := &http.Request{Method: "GET", URL: u, Header: http.Header{"User-Agent": {testUA}}, RemoteAddr: "192.0.2.1:5000"}
		r = r.WithContext(b.Context())
		h.ServeHTTP(&discardWriter{h: http.Header{}}, r)
	}
}

// BenchmarkSegmentThroughHandler: one 200 KB segment through the whole
// handler (token check, stream cache, shield or direct fetch, copy).
func BenchmarkSegmentThroughHandler(b *testing.B) {
	for _, c := range []struct {
		name string
		size int64
	}{{"shield", 64 << 20}, {"direct", 0}} {
		b.Run(c.name, func(b *testing.B) {
			h, base := benchHandler(b, c.size)
			benchRequest(b, h, base+"seg.ts", 200<<10)
		})
	}
}

// BenchmarkPlaylistThroughHandler: a small live playlist fetched, rewritten
// with a fresh token and written.
func BenchmarkPlaylistThroughHandler(b *testing.B) {
	for _, c := range []struct {
		name string
		size int64
	}{{"shield", 64 << 20}, {"direct", 0}} {
		b.Run(c.name, func(b *testing.B) {
			h, base := benchHandler(b, c.size)
			benchRequest(b, h, base+"index.m3u8", 0)
		})
	}
}

var _ http.ResponseWriter = (*discardWriter)(nil)
