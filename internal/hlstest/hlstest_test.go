package hlstest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/internal/hlstest"
)

func get(t *testing.T, url string, hdr http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestOrigin(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a/index.m3u8": "#EXTM3U\n",
		"a/seg.ts":     "0123456789",
		"a/seg.m4s":    "m4s",
		"a/init.mp4":   "mp4",
		"a/k.key":      "key",
		"a/audio.aac":  "aac",
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := hlstest.NewOrigin(t, dir)
	if !strings.HasPrefix(o.URL, "http://127.0.0.1:") {
		t.Fatalf("origin URL %q is not on 127.0.0.1", o.URL)
	}

	tests := []struct {
		name       string
		path       string
		header     http.Header
		wantStatus int
		wantType   string
		wantBody   string
	}{
		{"playlist", "/a/index.m3u8", nil, 200, "application/vnd.apple.mpegurl", "#EXTM3U\n"},
		{"ts", "/a/seg.ts", nil, 200, "video/mp2t", "0123456789"},
		{"m4s", "/a/seg.m4s", nil, 200, "video/mp4", "m4s"},
		{"mp4", "/a/init.mp4", nil, 200, "video/mp4", "mp4"},
		{"key", "/a/k.key", nil, 200, "application/octet-stream", "key"},
		{"aac", "/a/audio.aac", nil, 200, "audio/aac", "aac"},
		{"range", "/a/seg.ts", http.Header{"Range": {"bytes=2-5"}}, 206, "video/mp2t", "2345"},
		{"missing", "/a/nope.ts", nil, 404, "", ""},
		{"directory", "/a/", nil, 404, "", ""},
		{"escape", "/../../etc/passwd", nil, 404, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, o.URL+tc.path, tc.header)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantType != "" && resp.Header.Get("Content-Type") != tc.wantType {
				t.Errorf("Content-Type = %q, want %q", resp.Header.Get("Content-Type"), tc.wantType)
			}
			if tc.wantBody != "" && string(body) != tc.wantBody {
				t.Errorf("body = %q, want %q", body, tc.wantBody)
			}
		})
	}

	t.Run("log", func(t *testing.T) {
		o.Reset()
		get(t, o.URL+"/a/seg.ts?x=1", http.Header{"Range": {"bytes=0-1"}, "User-Agent": {"probe/1"}})
		reqs := o.Requests()
		if len(reqs) != 1 {
			t.Fatalf("logged %d requests, want 1", len(reqs))
		}
		r := reqs[0]
		if r.Method != "GET" || r.Path != "/a/seg.ts" || r.RawQuery != "x=1" || r.Range != "bytes=0-1" || r.UserAgent != "probe/1" {
			t.Errorf("logged %+v", r)
		}
		if got := o.Paths(); len(got) != 1 || got[0] != "/a/seg.ts" {
			t.Errorf("Paths() = %v", got)
		}
		if o.Count("/a/seg.ts") != 1 || o.Count("/a/index.m3u8") != 0 {
			t.Errorf("Count wrong: %v", o.Paths())
		}
	})
}

func TestOriginOptions(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.m3u8"), []byte("#EXTM3U\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("required header", func(t *testing.T) {
		o := hlstest.NewOrigin(t, dir, hlstest.WithRequiredHeader("X-Origin-Auth", "s3cret"))
		if resp, _ := get(t, o.URL+"/x.m3u8", nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("without header: status %d, want 403", resp.StatusCode)
		}
		if resp, _ := get(t, o.URL+"/x.m3u8", http.Header{"X-Origin-Auth": {"s3cret"}}); resp.StatusCode != 200 {
			t.Errorf("with header: status %d, want 200", resp.StatusCode)
		}
		if n := len(o.Requests()); n != 2 {
			t.Errorf("logged %d requests, want 2 (rejected ones too)", n)
		}
	})
	t.Run("latency", func(t *testing.T) {
		o := hlstest.NewOrigin(t, dir, hlstest.WithLatency(300*time.Millisecond))
		start := time.Now()
		get(t, o.URL+"/x.m3u8", nil)
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("answered after %v, want >= 300ms", d)
		}
	})
	t.Run("cors", func(t *testing.T) {
		plain := hlstest.NewOrigin(t, dir)
		if resp, _ := get(t, plain.URL+"/x.m3u8", nil); resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("CORS header without WithCORS")
		}
		cors := hlstest.NewOrigin(t, dir, hlstest.WithCORS())
		if resp, _ := get(t, cors.URL+"/x.m3u8", nil); resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("no CORS header with WithCORS")
		}
	})
	t.Run("middleware", func(t *testing.T) {
		teapot := func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusTeapot)
			})
		}
		o := hlstest.NewOrigin(t, dir, hlstest.WithMiddleware(teapot))
		if resp, _ := get(t, o.URL+"/x.m3u8", nil); resp.StatusCode != http.StatusTeapot {
			t.Errorf("status %d, want 418", resp.StatusCode)
		}
	})
}

// TestVODFixtures generates every VOD kind and plays it straight from the
// origin with ffmpeg: no hlsgate involved, this proves the harness.
func TestVODFixtures(t *testing.T) {
	for _, kind := range hlstest.VODKinds() {
		t.Run(kind.String(), func(t *testing.T) {
			v := hlstest.NewVOD(t, kind)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			res, err := hlstest.FFmpegPlay(ctx, t, v.URL, hlstest.FFmpegUserAgent("hlstest-probe/1"))
			if err != nil {
				t.Fatal(err)
			}
			// Segments are cut at keyframes, so the last one may end a
			// little early; 4 s of 5 proves every segment was read.
			if res.OutTime < 4*time.Second {
				t.Errorf("ffmpeg copied %v of media, want >= 4s\n%s", res.OutTime, res.Stderr)
			}
			reqs := v.Origin.Requests()
			if len(reqs) < 3 {
				t.Fatalf("origin saw %d requests: %v", len(reqs), v.Origin.Paths())
			}
			for _, r := range reqs {
				if r.UserAgent != "hlstest-probe/1" {
					t.Errorf("request %s had User-Agent %q", r.Path, r.UserAgent)
				}
			}
			switch kind {
			case hlstest.AESVOD:
				if len(v.Key) != 16 || v.Origin.Count("/aes/keys/aes.key") == 0 {
					t.Errorf("key %x, key fetches %d: %v", v.Key, v.Origin.Count("/aes/keys/aes.key"), v.Origin.Paths())
				}
			case hlstest.FMP4VOD:
				if v.Origin.Count("/fmp4/init.mp4") == 0 {
					t.Errorf("init segment never fetched: %v", v.Origin.Paths())
				}
			case hlstest.Multivariant:
				for _, p := range []string{"/mv/high/index.m3u8", "/mv/low/index.m3u8", "/mv/audio/index.m3u8", "/mv/audio/seg_000.ts"} {
					if v.Origin.Count(p) == 0 {
						t.Errorf("%s never fetched: %v", p, v.Origin.Paths())
					}
				}
			case hlstest.ByteRangeVOD:
				ranged := 0
				for _, r := range reqs {
					if r.Path == "/br/index.ts" && strings.HasPrefix(r.Range, "bytes=") {
						ranged++
					}
				}
				if ranged == 0 {
					t.Errorf("no Range request for the single file: %+v", reqs)
				}
			}
		})
	}
}

// TestFFmpegPlayFails proves FFmpegPlay does not pass a stream it could not
// fully read: ffmpeg itself exits 0 when a segment answers 403.
func TestFFmpegPlayFails(t *testing.T) {
	deny := func(path string) hlstest.OriginOption {
		return hlstest.WithMiddleware(func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == path {
					http.Error(w, "denied", http.StatusForbidden)
					return
				}
				next.ServeHTTP(w, r)
			})
		})
	}
	tests := []struct {
		name string
		kind hlstest.Kind
		deny string
	}{
		{"segment 403", hlstest.TSVOD, "/ts/seg_002.ts"},
		{"playlist 403", hlstest.TSVOD, "/ts/index.m3u8"},
		{"key 403", hlstest.AESVOD, "/aes/keys/aes.key"},
		{"init 403", hlstest.FMP4VOD, "/fmp4/init.mp4"},
		{"audio rendition 403", hlstest.Multivariant, "/mv/audio/index.m3u8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := hlstest.NewVOD(t, tc.kind, deny(tc.deny))
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			_, err := hlstest.FFmpegPlay(ctx, t, v.URL)
			if !errors.Is(err, hlstest.ErrPlayback) {
				t.Fatalf("err = %v, want ErrPlayback", err)
			}
			t.Logf("as expected: %v", err)
		})
	}
}

func TestFFmpegHeaders(t *testing.T) {
	v := hlstest.NewVOD(t, hlstest.TSVOD, hlstest.WithRequiredHeader("X-Origin-Auth", "s3cret"))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := hlstest.FFmpegPlay(ctx, t, v.URL); !errors.Is(err, hlstest.ErrPlayback) {
		t.Errorf("without header: err = %v, want ErrPlayback", err)
	}
	if _, err := hlstest.FFmpegPlay(ctx, t, v.URL, hlstest.FFmpegHeader("X-Origin-Auth", "s3cret")); err != nil {
		t.Errorf("with header: %v", err)
	}
}

func TestLive(t *testing.T) {
	l := hlstest.NewLive(t)
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	if err := l.WaitReady(ctx, 3); err != nil {
		t.Fatal(err)
	}
	_, body := get(t, l.URL, nil)
	for _, want := range []string{"#EXT-X-MEDIA-SEQUENCE:", "#EXT-X-PROGRAM-DATE-TIME:"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("live playlist lacks %q:\n%s", want, body)
		}
	}
	if bytes.Contains(body, []byte("#EXT-X-ENDLIST")) {
		t.Errorf("live playlist has ENDLIST:\n%s", body)
	}
	start := time.Now()
	res, err := hlstest.FFmpegPlayLive(ctx, t, l.URL, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.OutTime < 2900*time.Millisecond {
		t.Errorf("read %v of live media, want 3s", res.OutTime)
	}
	// More than one playlist fetch shows ffmpeg followed the live window.
	if n := l.Origin.Count(l.Entry); n < 2 {
		t.Errorf("live playlist fetched %d times in %v, want reloads", n, time.Since(start))
	}
	segs, err := l.Segments()
	if err != nil || len(segs) == 0 || len(segs) > hlstest.LiveListSize {
		t.Errorf("Segments() = %v, %v; want 1..%d", segs, err, hlstest.LiveListSize)
	}
}

// TestHLSJS plays fixtures straight from a CORS-enabled origin in headless
// Chromium with hls.js, and shows that a missing CORS header or a failing
// segment is reported, so an end-to-end test built on HLSJSPlay can fail.
func TestHLSJS(t *testing.T) {
	tests := []struct {
		name      string
		kind      hlstest.Kind
		opts      []hlstest.OriginOption
		wantFatal string // hls.js error details expected; "" for a clean play
	}{
		{"ts", hlstest.TSVOD, []hlstest.OriginOption{hlstest.WithCORS()}, ""},
		{"fmp4", hlstest.FMP4VOD, []hlstest.OriginOption{hlstest.WithCORS()}, ""},
		{"aes128", hlstest.AESVOD, []hlstest.OriginOption{hlstest.WithCORS()}, ""},
		{"multivariant", hlstest.Multivariant, []hlstest.OriginOption{hlstest.WithCORS()}, ""},
		{"byterange", hlstest.ByteRangeVOD, []hlstest.OriginOption{hlstest.WithCORS()}, ""},
		{"no cors", hlstest.TSVOD, nil, "manifestLoadError"},
		{"key 403", hlstest.AESVOD, []hlstest.OriginOption{hlstest.WithCORS(), hlstest.WithMiddleware(
			func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if strings.HasSuffix(r.URL.Path, ".key") {
						http.Error(w, "denied", http.StatusForbidden)
						return
					}
					next.ServeHTTP(w, r)
				})
			})}, "keyLoadError"},
	}
	// hls.js retries a failed key for seconds by default; the failure cases
	// need no retries, and turning them off also proves HLSJSConfig reaches
	// the player.
	noRetry := hlstest.HLSJSConfig(map[string]any{
		"keyLoadPolicy": map[string]any{"default": map[string]any{
			"maxTimeToFirstByteMs": 8000, "maxLoadTimeMs": 20000,
			"timeoutRetry": nil, "errorRetry": nil,
		}},
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Playback runs in real time and mostly waits, so two players
			// at once (the default -parallel on two cores) halve the time.
			t.Parallel()
			v := hlstest.NewVOD(t, tc.kind, tc.opts...)
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			start := time.Now()
			res, err := hlstest.HLSJSPlay(ctx, t, v.URL, 2, noRetry)
			t.Logf("%v in %v (%+v): played %.2fs, frags %v, levels %d, audio tracks %d, UA %q",
				tc.kind, time.Since(start).Round(10*time.Millisecond), res.Timings, res.Played, res.Frags, res.Levels, res.AudioTracks, res.UserAgent)
			if tc.wantFatal != "" {
				if !errors.Is(err, hlstest.ErrPlayback) {
					t.Fatalf("err = %v, want ErrPlayback", err)
				}
				if len(res.Fatal) == 0 || res.Fatal[0].Details != tc.wantFatal {
					t.Fatalf("fatal = %+v, want %s", res.Fatal, tc.wantFatal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Played < 2 || res.CurrentTime < 2 {
				t.Errorf("played %.2f (currentTime %.2f), want >= 2", res.Played, res.CurrentTime)
			}
			if !strings.Contains(res.UserAgent, "Chrome/") {
				t.Errorf("user agent %q", res.UserAgent)
			}
			if got := v.Origin.Requests(); len(got) == 0 || got[0].UserAgent != res.UserAgent {
				t.Errorf("origin did not see Chromium's user agent: %+v", got)
			}
			if tc.kind == hlstest.Multivariant && (res.Levels != 2 || res.Frags["audio"] == 0) {
				t.Errorf("levels %d, audio frags %d; want 2 levels and alternate audio", res.Levels, res.Frags["audio"])
			}
		})
	}

	t.Run("live", func(t *testing.T) {
		t.Parallel()
		l := hlstest.NewLive(t, hlstest.WithCORS())
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		if err := l.WaitReady(ctx, 3); err != nil {
			t.Fatal(err)
		}
		res, err := hlstest.HLSJSPlay(ctx, t, l.URL, 2)
		if err != nil {
			t.Fatal(err)
		}
		if res.Ended {
			t.Errorf("live stream ended")
		}
	})
}
