// Package hlstest is hlsgate's real-player test harness: it makes HLS fixtures
// with ffmpeg, serves them from a logging origin on 127.0.0.1, and plays URLs
// with two real clients, ffmpeg's HLS demuxer and hls.js in headless Chromium.
//
// It owns only test infrastructure. It must not import any other hlsgate
// package (so proxy and server tests can use it without cycles), it must not
// talk to anything but 127.0.0.1, and every wait in it is bounded by a context
// or a fixed timeout. Its files are not _test.go files so that other
// packages' tests can import it; nothing outside tests should.
//
// # Use
//
//	v := hlstest.NewVOD(t, hlstest.Multivariant)            // origin on 127.0.0.1
//	url := startGatewayInFrontOf(t, v.URL)                  // the test's own code
//	if _, err := hlstest.FFmpegPlay(ctx, t, url); err != nil { t.Fatal(err) }
//	res, err := hlstest.HLSJSPlay(ctx, t, url, 2)           // >= 2 s played in Chromium
//	// v.Origin.Requests() shows what reached the origin (paths, Range, UA, headers).
//
// # Tools
//
// The helpers need ffmpeg, node, Chromium and the npm packages of e2e/
// (installed by `make e2e-deps`, i.e. `npm ci --prefix e2e`). When one is
// missing the test is skipped with a message naming it, unless
// HLSGATE_TEST_REQUIRE_E2E=1 (set by CI), in which case the test fails.
// HLSGATE_TEST_CHROMIUM overrides the Chromium binary (default: chromium or
// chromium-browser on PATH).
//
// # Fixtures
//
// Every fixture is 5 s of testsrc video (320x180, 25 fps, a keyframe every
// second) and a 440 Hz sine, cut into 1 s segments, encoded with libx264
// (ultrafast, Constrained Baseline, level 3.0, yuv420p) and AAC-LC 64 kb/s.
// Each generates in well under a second on one core. The kinds are MPEG-TS,
// fMP4 with EXT-X-MAP, AES-128 with a key served by the origin, a multivariant
// playlist (two video variants plus an alternate audio rendition, each in its
// own folder) and a single-file EXT-X-BYTERANGE playlist; NewLive runs ffmpeg
// -re for a sliding-window live playlist with EXT-X-PROGRAM-DATE-TIME between
// EXTINF and the URI.
//
// # Codecs in Debian's Chromium
//
// Checked on Debian 12's chromium 156 (which decodes through the system
// FFmpeg, proprietary codecs included): MediaSource.isTypeSupported is true for
// 'video/mp4; codecs="avc1.42E01E,mp4a.40.2"', for avc1.64001f, mp4a.40.2,
// AV1, VP9 and Opus, and false for HEVC (hev1). hls.js transmuxes MPEG-TS to
// fMP4 for MSE, and the package's own tests play every fixture kind in it, so
// H.264 + AAC is the codec pair for all fixtures; no fallback codec is needed.
package hlstest
