package fleet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/internal/hlstest"
)

// buildTimeout bounds `go build`; a cold build compiles SQLite (cgo).
const buildTimeout = 5 * time.Minute

// hlsgateBinary builds hlsgate on its first call and returns the same
// binary to every later one, so the tests of one run share one build and a
// run whose tests all skip builds nothing. TestMain sets it, and removes the
// build directory when the tests end.
var hlsgateBinary func() (string, error)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hlsgate-fleet-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
	hlsgateBinary = sync.OnceValues(func() (string, error) { return build(filepath.Join(dir, "hlsgate")) })
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// build builds the hlsgate command from the module root into bin. When the
// test runs with -race the binary gets it too, so a data race inside a
// replica is reported in its log.
func build(bin string) (string, error) {
	root, err := hlstest.ModuleRoot()
	if err != nil {
		return "", err
	}
	// go test puts $GOROOT/bin first on the test's PATH.
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("build hlsgate: the go command is not on PATH: %w", err)
	}
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, append(args, ".")...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1") // SQLite is cgo; -race needs it too
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// buildHlsgate returns the path of the hlsgate binary, building it first
// if no test of this run has.
func buildHlsgate(tb testing.TB) string {
	tb.Helper()
	start := time.Now()
	bin, err := hlsgateBinary()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("hlsgate binary (race=%v) ready after %s", raceEnabled, time.Since(start).Round(time.Millisecond))
	return bin
}
