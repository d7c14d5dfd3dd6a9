package hlstest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// EnvRequireE2E names the environment variable that turns every "tool missing"
// skip of this package into a test failure. CI sets it to 1 so that a broken
// install cannot pass as a green run of skipped tests.
const EnvRequireE2E = "HLSGATE_TEST_REQUIRE_E2E"

// EnvChromium names the environment variable that overrides the Chromium
// binary used by HLSJSPlay.
const EnvChromium = "HLSGATE_TEST_CHROMIUM"

// ErrNoModuleRoot is returned by ModuleRoot when no go.mod is found above the
// working directory.
var ErrNoModuleRoot = errors.New("hlstest: no go.mod above the working directory")

// missing skips tb, or fails it when EnvRequireE2E=1, with a message that says
// what is missing and how to get it.
func missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(EnvRequireE2E) == "1" {
		tb.Fatalf("%s (%s=1, so this fails instead of skipping)", msg, EnvRequireE2E)
	}
	tb.Skipf("%s; skipping (set %s=1 to fail instead)", msg, EnvRequireE2E)
}

// lookPath returns the first of names found on PATH.
func lookPath(names ...string) (string, bool) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, true
		}
	}
	return "", false
}

// RequireFFmpeg returns the path of the ffmpeg binary, or skips tb (fails it
// under HLSGATE_TEST_REQUIRE_E2E=1) when ffmpeg is not on PATH.
func RequireFFmpeg(tb testing.TB) string {
	tb.Helper()
	p, ok := lookPath("ffmpeg")
	if !ok {
		missing(tb, "hlstest: ffmpeg not found on PATH (apt-get install ffmpeg)")
	}
	return p
}

// RequireNode returns the path of the node binary, or skips tb (fails it
// under HLSGATE_TEST_REQUIRE_E2E=1) when node is not on PATH.
func RequireNode(tb testing.TB) string {
	tb.Helper()
	p, ok := lookPath("node")
	if !ok {
		missing(tb, "hlstest: node not found on PATH (install Node.js 20 or newer)")
	}
	return p
}

// RequireChromium returns the path of the Chromium binary ($HLSGATE_TEST_CHROMIUM,
// else chromium or chromium-browser on PATH), or skips tb (fails it under
// HLSGATE_TEST_REQUIRE_E2E=1) when there is none.
func RequireChromium(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv(EnvChromium); p != "" {
		if _, err := os.Stat(p); err != nil {
			missing(tb, "hlstest: %s=%q: %v", EnvChromium, p, err)
		}
		return p
	}
	p, ok := lookPath("chromium", "chromium-browser")
	if !ok {
		missing(tb, "hlstest: chromium not found on PATH (apt-get install chromium)")
	}
	return p
}

// ModuleRoot returns the directory holding go.mod, found by walking up from
// the working directory (go test runs in the package's folder).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("hlstest: module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoModuleRoot
		}
		dir = parent
	}
}

// RequireE2E returns the e2e/ directory of the module with its npm packages
// installed, or skips tb (fails it under HLSGATE_TEST_REQUIRE_E2E=1) telling
// the user to run `make e2e-deps`.
func RequireE2E(tb testing.TB) string {
	tb.Helper()
	root, err := ModuleRoot()
	if err != nil {
		missing(tb, "hlstest: %v", err)
		return ""
	}
	dir := filepath.Join(root, "e2e")
	for _, f := range []string{
		"play.mjs",
		"node_modules/hls.js/dist/hls.min.js",
		"node_modules/playwright-core/package.json",
	} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f))); err != nil {
			missing(tb, "hlstest: e2e/%s missing: run `make e2e-deps` (npm ci --prefix e2e)", f)
		}
	}
	return dir
}
