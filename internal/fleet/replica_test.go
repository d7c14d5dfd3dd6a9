package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/server/store/storetest"
	"github.com/hlsgate/hlsgate/signer"
)

const (
	// startTimeout bounds a replica's start, from exec to a healthy /healthz.
	startTimeout = 30 * time.Second
	// stopTimeout bounds a graceful stop (SIGTERM) before SIGKILL follows.
	stopTimeout = 10 * time.Second
	// logTail is how much of a replica's log a failure shows.
	logTail = 16 << 10
)

// logBuffer collects a replica's output across restarts; safe for
// concurrent use (exec copies into it from its own goroutine).
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Len returns how many bytes were written so far.
func (l *logBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

// since returns what was written from offset off on.
func (l *logBuffer) since(off int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b.Bytes()[off:])
}

// tail returns the last n bytes written.
func (l *logBuffer) tail(n int) string {
	s := l.String()
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// replica is one hlsgate process. Its address is chosen by the first start
// (-listen 127.0.0.1:0) and kept by later ones, so the viewer's load balancer
// finds a restarted replica where it was. Only the test goroutine uses it.
type replica struct {
	name string
	bin  string
	args []string // serve flags, without -listen
	env  []string
	logs *logBuffer

	addr string   // host:port once started
	proc *process // nil when not running
}

// process is one run of a replica.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's result, set before done closes
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// url returns the replica's base URL, "http://127.0.0.1:port".
func (r *replica) url() string { return "http://" + r.addr }

// start runs the replica and waits until it listens and /healthz answers
// 200, or ctx ends.
func (r *replica) start(ctx context.Context) error {
	listen := "127.0.0.1:0"
	if r.addr != "" {
		listen = r.addr
	}
	from := r.logs.Len()
	cmd := exec.Command(r.bin, append([]string{"serve", "-listen", listen}, r.args...)...)
	cmd.Env = r.env
	cmd.Stdout = r.logs
	cmd.Stderr = r.logs
	cmd.WaitDelay = time.Second // do not wait for output pipes past the process's end
	setProcAttrs(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: start: %w", r.name, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	r.proc = p

	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	addr, err := r.waitListening(ctx, p, from)
	if err != nil {
		return err
	}
	if r.addr != "" && addr != r.addr {
		return fmt.Errorf("%s: restarted on %s, want %s", r.name, addr, r.addr)
	}
	r.addr = addr
	return r.waitHealthy(ctx, p)
}

// waitListening reads the replica's JSON log from offset from on until the
// "hlsgate listening" line, and returns its address.
func (r *replica) waitListening(ctx context.Context, p *process, from int) (string, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, line := range strings.Split(r.logs.since(from), "\n") {
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "hlsgate listening" && rec.Addr != "" {
				return rec.Addr, nil
			}
		}
		select {
		case <-p.done:
			return "", fmt.Errorf("%s exited before listening: %v", r.name, p.err)
		case <-ctx.Done():
			return "", fmt.Errorf("%s: no \"hlsgate listening\" log line: %w", r.name, ctx.Err())
		case <-tick.C:
		}
	}
}

// waitHealthy polls /healthz until it answers 200.
func (r *replica) waitHealthy(ctx context.Context, p *process) error {
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := "no answer"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url()+"/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was healthy: %v", r.name, p.err)
		case <-ctx.Done():
			return fmt.Errorf("%s: /healthz not 200 (last: %s): %w", r.name, last, ctx.Err())
		case <-tick.C:
		}
	}
}

// kill ends the replica with SIGKILL, as a crash or an OOM kill would.
func (r *replica) kill() error {
	p := r.proc
	if p == nil {
		return nil
	}
	r.proc = nil
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
		return fmt.Errorf("%s: still running %s after SIGKILL", r.name, stopTimeout)
	}
}

// stop ends the replica with SIGTERM, as an orchestrator would, and
// returns its exit error: nil for a clean, graceful exit. Past stopTimeout
// it kills the process and says so.
func (r *replica) stop() error {
	p := r.proc
	if p == nil {
		return nil
	}
	r.proc = nil
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done // bounded by the kill and WaitDelay
		return fmt.Errorf("%s: still running %s after SIGTERM", r.name, stopTimeout)
	}
}

// streamCacheTTL is the replicas' -stream-cache-ttl (the default): how
// stale a replica's copy of a stream may be.
const streamCacheTTL = time.Second

// replicaArgs are the serve flags every replica of these tests gets.
func replicaArgs(db string) []string {
	return []string{
		"-db", db,
		"-allow-private-upstreams",
		"-revocation-sync", "200ms",
		"-stream-cache-ttl", streamCacheTTL.String(),
		"-log-format", "json",
		"-bcrypt-cost", "4", // logins in a test need no slow hashing
		"-upstream-timeout", "10s",
		"-shutdown-timeout", "5s",
	}
}

// forwardedDSN puts a forwarder between the replicas and the PostgreSQL
// server of dsn, and returns it with dsn rewritten to go through it.
func forwardedDSN(tb testing.TB, dsn string) (*forwarder, string) {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		tb.Fatalf("%s must be a postgres:// URL with a TCP host: the outage is simulated by a TCP forwarder", storetest.EnvPostgresDSN)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	f := newForwarder(tb, target)
	u.Host = f.addr()
	return f, u.String()
}

// newKeyRing returns the text of a one-key signing key ring, for
// HLSGATE_SIGNING_KEYS.
func newKeyRing(tb testing.TB) string {
	tb.Helper()
	k, err := signer.GenerateKey("k1")
	if err != nil {
		tb.Fatal(err)
	}
	return k.String()
}

// replicaEnv is the test's environment without any HLSGATE_* setting (the
// replicas are configured by flags alone, whatever the caller's shell
// holds), plus the shared key ring.
func replicaEnv(keyRing string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HLSGATE_") {
			env = append(env, kv)
		}
	}
	return append(env, "HLSGATE_SIGNING_KEYS="+keyRing)
}

// startFleet starts n replicas at once, as an orchestrator would (they
// apply the schema concurrently), and kills whatever is still running when
// the test ends.
func startFleet(tb testing.TB, n int, bin string, args, env []string) []*replica {
	tb.Helper()
	rs := make([]*replica, n)
	for i := range rs {
		rs[i] = &replica{name: fmt.Sprintf("replica %d", i+1), bin: bin, args: args, env: env, logs: &logBuffer{}}
	}
	tb.Cleanup(func() {
		for _, r := range rs {
			if err := r.kill(); err != nil {
				tb.Error(err)
			}
		}
		if tb.Failed() {
			for _, r := range rs {
				tb.Logf("--- %s (%s) log:\n%s", r.name, r.addr, r.logs.tail(logTail))
			}
		}
	})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Go(func() { errs[i] = r.start(context.Background()) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		tb.Fatal(err)
	}
	return rs
}
