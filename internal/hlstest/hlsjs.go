package hlstest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// PlayerError is one hls.js ERROR event.
type PlayerError struct {
	Type         string `json:"type"`    // e.g. "networkError", "mediaError"
	Details      string `json:"details"` // e.g. "manifestLoadError", "fragLoadError"
	Fatal        bool   `json:"fatal"`
	ResponseCode int    `json:"responseCode"` // HTTP status, 0 when none (e.g. blocked by CORS)
	URL          string `json:"url"`
	Reason       string `json:"reason"`
	Error        string `json:"error"`
}

// FailedRequest is a request Chromium could not complete (network error,
// CORS block, abort).
type FailedRequest struct {
	URL   string `json:"url"`
	Error string `json:"error"`
}

// HTTPError is a response with status 400 or above that Chromium received.
type HTTPError struct {
	URL    string `json:"url"`
	Status int    `json:"status"`
}

// Result is what HLSJSPlay observed.
type Result struct {
	// CurrentTime is the video element's currentTime when playback stopped
	// being watched.
	CurrentTime float64 `json:"currentTime"`
	// Played is how far currentTime advanced after the first "playing" event,
	// which for live streams starts near the live edge, not at 0.
	Played  float64 `json:"played"`
	Playing bool    `json:"playing"`
	Ended   bool    `json:"ended"`
	// TimedOut is set when the time limit came before the target or a fatal
	// error.
	TimedOut bool `json:"timedOut"`
	// Fatal holds hls.js fatal errors (playback stopped at the first one).
	Fatal []PlayerError `json:"fatal"`
	// Errors holds non-fatal hls.js errors (at most 50).
	Errors []PlayerError `json:"errors"`
	// VideoError is the media element's error message, "" when none.
	VideoError string `json:"videoError"`
	// UserAgent is Chromium's navigator.userAgent.
	UserAgent  string `json:"userAgent"`
	HLSVersion string `json:"hlsVersion"`
	// Levels and AudioTracks count what the manifest offered hls.js.
	Levels      int `json:"levels"`
	AudioTracks int `json:"audioTracks"`
	// Frags counts loaded fragments by hls.js playlist type ("main",
	// "audio", "subtitle").
	Frags          map[string]int  `json:"frags"`
	ConsoleErrors  []string        `json:"consoleErrors"`
	FailedRequests []FailedRequest `json:"failedRequests"`
	HTTPErrors     []HTTPError     `json:"httpErrors"`
	// Timings says where the wall time went, for slow-test diagnosis.
	Timings Timings `json:"timings"`
}

// Timings are milliseconds since play.mjs started.
type Timings struct {
	LaunchMs  int64 `json:"launchMs"`  // Chromium up
	LoadMs    int64 `json:"loadMs"`    // player page loaded
	PlayingMs int64 `json:"playingMs"` // "playing" first seen (polled every 200 ms)
	TotalMs   int64 `json:"totalMs"`   // browser closed
}

// HLSJSOption configures HLSJSPlay.
type HLSJSOption func(*hlsjsConfig)

type hlsjsConfig struct {
	hlsConfig map[string]any
	userAgent string
}

// HLSJSUserAgent makes Chromium send ua as its User-Agent, so a test can
// mint a playback URL bound to the browser's User-Agent before it plays.
func HLSJSUserAgent(ua string) HLSJSOption {
	return func(c *hlsjsConfig) { c.userAgent = ua }
}

// HLSJSConfig merges cfg into the hls.js constructor config (e.g.
// {"lowLatencyMode": true} or {"startLevel": 1}).
func HLSJSConfig(cfg map[string]any) HLSJSOption {
	return func(c *hlsjsConfig) {
		if c.hlsConfig == nil {
			c.hlsConfig = map[string]any{}
		}
		for k, v := range cfg {
			c.hlsConfig[k] = v
		}
	}
}

// HLSJSPlay plays playbackURL with hls.js (from e2e/node_modules) in a
// <video muted autoplay> in headless Chromium, driven by e2e/play.mjs through
// playwright-core. The page is served by its own httptest server on
// 127.0.0.1, so every playback request is cross-origin and CORS is exercised.
// It returns once Played reaches minSeconds, hls.js reports a fatal error,
// the video ends or errors, or the time runs out (ctx's deadline, or 60 s).
// The error wraps ErrPlayback unless Played reached minSeconds with no fatal
// error; Result is filled either way for tests that expect a failure. It
// skips tb (fails it under HLSGATE_TEST_REQUIRE_E2E=1) when node, Chromium
// or the e2e npm packages are missing.
func HLSJSPlay(ctx context.Context, tb testing.TB, playbackURL string, minSeconds float64, opts ...HLSJSOption) (Result, error) {
	tb.Helper()
	node := RequireNode(tb)
	chrome := RequireChromium(tb)
	e2e := RequireE2E(tb)
	var cfg hlsjsConfig
	for _, o := range opts {
		o(&cfg)
	}

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultPlayTimeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	// play.mjs gets a budget a little shorter than ctx so it can close the
	// browser and still print what it saw.
	budget := time.Until(deadline) - 5*time.Second
	if budget < 5*time.Second {
		return Result{}, fmt.Errorf("hlstest: hls.js play: less than 10 s left on the context (%v)", time.Until(deadline))
	}

	page := newPlayerPage(tb, filepath.Join(e2e, "node_modules", "hls.js", "dist", "hls.min.js"), playerConfig{
		Src:       playbackURL,
		HLSConfig: cfg.hlsConfig,
	})
	driver, err := json.Marshal(map[string]any{
		"pageURL":     page.URL + "/",
		"chromium":    chrome,
		"userDataDir": tb.TempDir(), // a fresh profile for every run
		"minSeconds":  minSeconds,
		"timeoutMs":   budget.Milliseconds(),
		"userAgent":   cfg.userAgent,
	})
	if err != nil {
		return Result{}, fmt.Errorf("hlstest: hls.js play: %w", err)
	}

	cmd := exec.CommandContext(ctx, node, filepath.Join(e2e, "play.mjs"), string(driver))
	cmd.Dir = e2e
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	setProcAttrs(cmd)
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("hlstest: hls.js play %s: driver: %w (ctx: %v)\n%s", playbackURL, err, ctx.Err(), stderr.String())
	}
	var res Result
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); err != nil {
		return Result{}, fmt.Errorf("hlstest: hls.js play %s: driver output: %w\n%s\n%s", playbackURL, err, stdout.String(), stderr.String())
	}
	if len(res.Fatal) > 0 || res.VideoError != "" || !res.Playing || res.Played < minSeconds {
		return res, fmt.Errorf("hlstest: hls.js play %s: %w: %s", playbackURL, ErrPlayback, res.summary(minSeconds))
	}
	return res, nil
}

// summary says in one line why a play failed.
func (r Result) summary(minSeconds float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "played %.2fs of %.2fs (currentTime %.2f, playing %v, ended %v, timed out %v)",
		r.Played, minSeconds, r.CurrentTime, r.Playing, r.Ended, r.TimedOut)
	for _, e := range r.Fatal {
		fmt.Fprintf(&b, "; fatal %s/%s code %d %s %s %s", e.Type, e.Details, e.ResponseCode, e.URL, e.Reason, e.Error)
	}
	if r.VideoError != "" {
		fmt.Fprintf(&b, "; video error %s", r.VideoError)
	}
	for _, e := range r.HTTPErrors {
		fmt.Fprintf(&b, "; HTTP %d %s", e.Status, e.URL)
	}
	for _, e := range r.FailedRequests {
		fmt.Fprintf(&b, "; failed %s %s", e.URL, e.Error)
	}
	for _, e := range r.ConsoleErrors {
		fmt.Fprintf(&b, "; console %q", e)
	}
	return b.String()
}

// playerConfig is handed to the page's script as JSON.
type playerConfig struct {
	Src       string         `json:"src"`
	HLSConfig map[string]any `json:"hlsConfig,omitempty"`
}

// newPlayerPage serves the player page and hls.js on a new httptest server,
// closed by tb.Cleanup.
func newPlayerPage(tb testing.TB, hlsJS string, cfg playerConfig) *httptest.Server {
	tb.Helper()
	tmpl := template.Must(template.New("page").Parse(playerPage))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := tmpl.Execute(w, cfg); err != nil {
			tb.Errorf("hlstest: player page: %v", err)
		}
	})
	mux.HandleFunc("GET /hls.min.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeFile(w, r, hlsJS)
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return srv
}

// playerPage records everything play.mjs reports in window.__hlstest; the
// driver polls it. html/template writes the config as a JS object literal.
const playerPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>hlstest player</title></head>
<body>
<video id="v" muted autoplay playsinline width="320" height="180"></video>
<script src="/hls.min.js"></script>
<script>
(function () {
  const CFG = {{.}};
  const R = window.__hlstest = {
    done: false, playing: false, ended: false, currentTime: 0, played: 0,
    fatal: [], errors: [], videoError: '', userAgent: navigator.userAgent,
    hlsVersion: '', levels: 0, audioTracks: 0, frags: {},
  };
  function describe(d) {
    return {
      type: String(d.type || ''), details: String(d.details || ''), fatal: !!d.fatal,
      responseCode: (d.response && d.response.code) || 0,
      url: String(d.url || (d.frag && d.frag.url) || (d.context && d.context.url) || ''),
      reason: String(d.reason || ''), error: d.error ? String(d.error.message || d.error) : '',
    };
  }
  if (typeof Hls === 'undefined' || !Hls.isSupported()) {
    R.fatal.push({ type: 'harness', details: typeof Hls === 'undefined' ? 'hls.js not loaded' : 'MSE not supported',
      fatal: true, responseCode: 0, url: '', reason: '', error: '' });
    R.done = true;
    return;
  }
  R.hlsVersion = Hls.version;
  const v = document.getElementById('v');
  let start = -1;
  v.addEventListener('playing', () => {
    R.playing = true;
    if (start < 0) start = v.currentTime;
  });
  v.addEventListener('timeupdate', () => {
    R.currentTime = v.currentTime;
    if (start >= 0) R.played = v.currentTime - start;
  });
  v.addEventListener('ended', () => { R.ended = true; R.done = true; });
  v.addEventListener('error', () => {
    R.videoError = v.error ? ('code ' + v.error.code + ': ' + v.error.message) : 'unknown';
    R.done = true;
  });
  const hls = new Hls(Object.assign({ debug: false }, CFG.hlsConfig || {}));
  hls.on(Hls.Events.ERROR, (e, d) => {
    if (d.fatal) { R.fatal.push(describe(d)); R.done = true; }
    else if (R.errors.length < 50) R.errors.push(describe(d));
  });
  hls.on(Hls.Events.MANIFEST_PARSED, (e, d) => {
    R.levels = d.levels.length;
    v.play().catch((err) => R.errors.push({ type: 'harness', details: 'play() rejected',
      fatal: false, responseCode: 0, url: '', reason: '', error: String(err) }));
  });
  hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, (e, d) => { R.audioTracks = d.audioTracks.length; });
  hls.on(Hls.Events.FRAG_LOADED, (e, d) => {
    const t = (d.frag && d.frag.type) || 'main';
    R.frags[t] = (R.frags[t] || 0) + 1;
  });
  hls.attachMedia(v);
  hls.loadSource(CFG.src);
})();
</script>
</body></html>
`
