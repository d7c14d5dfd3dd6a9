package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// modulePath is the module loadbench builds hlsgate from.
const modulePath = "github.com/hlsgate/hlsgate"

// moduleRoot finds the hlsgate module's folder from the working directory
// (make and go run ./internal/loadbench run from the module root).
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: run from the hlsgate checkout (make bench-load)")
	}
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	if strings.TrimSpace(line) != "module "+modulePath {
		return "", fmt.Errorf("%s is not the %s module: run from the hlsgate checkout", gomod, modulePath)
	}
	return filepath.Dir(gomod), nil
}

// buildGate builds hlsgate into dir and returns the binary's path. SQLite
// is linked through cgo, so cgo stays on.
func buildGate(ctx context.Context, root, dir string, stderr io.Writer) (string, error) {
	bin := filepath.Join(dir, "hlsgate")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build hlsgate: %w", err)
	}
	return bin, nil
}

// gate is one running hlsgate process.
type gate struct {
	proc *child
	base string // http://127.0.0.1:PORT
}

// startGate runs "hlsgate serve" on a free loopback port with the
// benchmark's settings plus extra flags, and waits until /healthz answers.
// Every start uses the same database and key ring in dir, so accounts,
// streams and playback URLs survive a restart.
func startGate(ctx context.Context, procs *children, client *http.Client, bin, dir, name string, extra ...string) (*gate, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := append([]string{
		"serve", "-listen", addr, "-db", "sqlite:" + filepath.Join(dir, "db"),
		"-allow-private-upstreams", "-bind-ip", "exact", "-bind-ua", "on", "-log-level", "warn",
		// Bounded clean-up: in-flight responses get 2 s on SIGTERM.
		"-shutdown-timeout", "2s",
	}, extra...)
	cmd := exec.Command(bin, args...)
	// The settings above are the whole configuration: no HLSGATE_* from the
	// caller's environment leaks in.
	cmd.Env = cleanEnv(os.Environ())
	c, err := startChild(name, cmd, filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	procs.add(c)
	g := &gate{proc: c, base: "http://" + addr}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c.exited() {
			return nil, c.diedError()
		}
		if st, _, err := get(ctx, client, g.base+"/healthz", ""); err == nil && st == http.StatusOK {
			c.markStarted()
			return g, nil
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("%s: /healthz not 200 within 15s; last log lines:\n%s", name, c.logTail(20))
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// cleanEnv drops HLSGATE_* variables.
func cleanEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "HLSGATE_") {
			out = append(out, kv)
		}
	}
	return out
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before hlsgate binds it; startGate then fails with hlsgate's own
// "address in use" in the log, which is rare enough on a benchmark machine.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// api talks to hlsgate's management API as one user agent.
type api struct {
	client *http.Client
	base   string
	ua     string
	token  string
}

// call sends a JSON request and decodes a JSON answer into out. A status
// other than want is an error carrying the response body.
func (a *api) call(ctx context.Context, method, path string, in, out any, want int) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	req.Header.Set("User-Agent", a.ua)
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// signUp registers and logs in a user.
func (a *api) signUp(ctx context.Context, username, password string) error {
	cred := map[string]string{"username": username, "password": password}
	if err := a.call(ctx, http.MethodPost, "/api/register", cred, nil, http.StatusCreated); err != nil {
		return err
	}
	var out struct{ Token string }
	if err := a.call(ctx, http.MethodPost, "/api/login", cred, &out, http.StatusOK); err != nil {
		return err
	}
	if out.Token == "" {
		return errors.New("login: no token in the answer")
	}
	a.token = out.Token
	return nil
}

// addStream creates a stream and returns its playback URL, minted for
// this client's IP (loopback) and User-Agent.
func (a *api) addStream(ctx context.Context, name, upstream string) (string, error) {
	var st struct{ ID int64 }
	if err := a.call(ctx, http.MethodPost, "/api/streams", map[string]any{"name": name, "url": upstream}, &st, http.StatusCreated); err != nil {
		return "", err
	}
	var pb struct{ URL string }
	if err := a.call(ctx, http.MethodGet, fmt.Sprintf("/api/stream?streamID=%d", st.ID), nil, &pb, http.StatusOK); err != nil {
		return "", err
	}
	if pb.URL == "" {
		return "", errors.New("playback: no url in the answer")
	}
	return pb.URL, nil
}

// onBase moves a URL on one hlsgate onto the same path on another (the
// tokens are bound to client and key ring, not to the host).
func onBase(rawURL, base string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	u.Scheme, u.Host = b.Scheme, b.Host
	return u.String(), nil
}

// get fetches a URL with a User-Agent and returns status and body (at most
// 1 MiB, plenty for a playlist; segments are drained).
func get(ctx context.Context, client *http.Client, rawURL, ua string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, nil, err
	}
	if ua != "" {
		req.Header.Set("User-Agent", ua)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, b, nil
}

// lastURI returns the last URI line of a media playlist, resolved against
// the playlist's URL: the newest segment.
func lastURI(playlistURL string, body []byte) (string, error) {
	return pickURI(playlistURL, body, false)
}

// firstURI returns the first URI line of a playlist, resolved against the
// playlist's URL.
func firstURI(playlistURL string, body []byte) (string, error) {
	return pickURI(playlistURL, body, true)
}

func pickURI(playlistURL string, body []byte, first bool) (string, error) {
	var pick string
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pick = line
		if first {
			break
		}
	}
	if pick == "" {
		return "", errors.New("playlist lists no URI")
	}
	base, err := url.Parse(playlistURL)
	if err != nil {
		return "", err
	}
	ref, err := url.Parse(pick)
	if err != nil {
		return "", fmt.Errorf("playlist URI %q: %w", pick, err)
	}
	return base.ResolveReference(ref).String(), nil
}
