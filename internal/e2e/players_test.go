package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/internal/hlstest"
	"github.com/hlsgate/hlsgate/server/store"
	"github.com/hlsgate/hlsgate/server/store/storetest"
)

const ffmpegUA = "hlsgate-e2e-ffmpeg"

// checkNoBypass fails when the origin saw a request that did not come
// through hlsgate, or saw none at all.
func checkNoBypass(t *testing.T, o *hlstest.Origin) {
	t.Helper()
	reqs := o.Requests()
	if len(reqs) == 0 {
		t.Fatal("the origin saw no request")
	}
	for _, r := range reqs {
		if r.UserAgent != upstreamUA {
			t.Errorf("request %s %s reached the origin with User-Agent %q: it bypassed hlsgate", r.Method, r.Path, r.UserAgent)
		}
	}
}

// TestFFmpegPlaysEveryKindThroughGate plays each VOD fixture with ffmpeg as
// the HLS client, from a playback URL, through hlsgate.
func TestFFmpegPlaysEveryKindThroughGate(t *testing.T) {
	g := startGate(t, storetest.DSN(t, store.EngineSQLite), testKeys(t))
	user := signUp(t, g, "viewer", ffmpegUA)
	for _, kind := range hlstest.VODKinds() {
		t.Run(kind.String(), func(t *testing.T) {
			vod := hlstest.NewVOD(t, kind)
			pb := user.playback(user.addStream(vod.URL))
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			res, err := hlstest.FFmpegPlay(ctx, t, pb, hlstest.FFmpegUserAgent(ffmpegUA))
			if err != nil {
				t.Fatalf("ffmpeg through hlsgate: %v\n%s", err, res.Stderr)
			}
			if res.OutTime < 4*time.Second {
				t.Errorf("ffmpeg read %s of a 5 s stream", res.OutTime)
			}
			checkNoBypass(t, vod.Origin)
			var segs int
			for _, p := range vod.Origin.Paths() {
				if strings.HasSuffix(p, ".ts") || strings.HasSuffix(p, ".m4s") {
					segs++
				}
			}
			if segs == 0 {
				t.Error("the origin served no segment")
			}
		})
	}
	if strings.Contains(g.logs.String(), strings.Split(strings.TrimPrefix(user.playback(1), g.http.URL+"/api/hls/"), "/")[0]) {
		t.Error("a stream token reached the logs")
	}
}

// TestFFmpegFollowsLiveThroughGate follows a sliding-window live playlist
// across several reloads, each with fresh tokens.
func TestFFmpegFollowsLiveThroughGate(t *testing.T) {
	live := hlstest.NewLive(t)
	g := startGate(t, storetest.DSN(t, store.EngineSQLite), testKeys(t))
	user := signUp(t, g, "viewer", ffmpegUA)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := live.WaitReady(ctx, 3); err != nil {
		t.Fatal(err)
	}
	pb := user.playback(user.addStream(live.URL))
	res, err := hlstest.FFmpegPlayLive(ctx, t, pb, 6*time.Second, hlstest.FFmpegUserAgent(ffmpegUA))
	if err != nil {
		t.Fatalf("ffmpeg live through hlsgate: %v\n%s", err, res.Stderr)
	}
	if n := live.Origin.Count(live.Entry); n < 3 {
		t.Errorf("the live playlist was loaded %d times, want several reloads", n)
	}
	checkNoBypass(t, live.Origin)
	if strings.Contains(g.logs.String(), "stream token refused") {
		t.Errorf("a live viewer hit a token error:\n%s", g.logs.String())
	}
}

// TestHLSJSPlaysThroughGate plays streams with hls.js in headless Chromium,
// cross-origin, through hlsgate.
func TestHLSJSPlaysThroughGate(t *testing.T) {
	const browserUA = "Mozilla/5.0 (X11; Linux x86_64) hlsgate-e2e Chrome"
	g := startGate(t, storetest.DSN(t, store.EngineSQLite), testKeys(t))
	user := signUp(t, g, "browser", browserUA)
	for _, kind := range []hlstest.Kind{hlstest.TSVOD, hlstest.FMP4VOD, hlstest.Multivariant} {
		t.Run(kind.String(), func(t *testing.T) {
			vod := hlstest.NewVOD(t, kind)
			pb := user.playback(user.addStream(vod.URL))
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			res, err := hlstest.HLSJSPlay(ctx, t, pb, 3, hlstest.HLSJSUserAgent(browserUA))
			if err != nil {
				t.Fatalf("hls.js through hlsgate: %v (%+v)", err, res)
			}
			if res.UserAgent != browserUA {
				t.Errorf("Chromium played as %q", res.UserAgent)
			}
			checkNoBypass(t, vod.Origin)
		})
	}
}

// TestHLSJSFollowsLiveThroughGate: hls.js follows a sliding-window live
// stream through hlsgate, reloading the playlist with fresh tokens.
func TestHLSJSFollowsLiveThroughGate(t *testing.T) {
	const browserUA = "Mozilla/5.0 (X11; Linux x86_64) hlsgate-e2e-live Chrome"
	live := hlstest.NewLive(t)
	g := startGate(t, storetest.DSN(t, store.EngineSQLite), testKeys(t))
	user := signUp(t, g, "livebrowser", browserUA)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := live.WaitReady(ctx, 3); err != nil {
		t.Fatal(err)
	}
	pb := user.playback(user.addStream(live.URL))
	res, err := hlstest.HLSJSPlay(ctx, t, pb, 4, hlstest.HLSJSUserAgent(browserUA))
	if err != nil {
		t.Fatalf("hls.js live through hlsgate: %v (%+v)", err, res)
	}
	if n := live.Origin.Count(live.Entry); n < 3 {
		t.Errorf("the live playlist was loaded %d times, want several reloads", n)
	}
	checkNoBypass(t, live.Origin)
}
