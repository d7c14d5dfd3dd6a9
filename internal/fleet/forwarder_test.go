package fleet

import (
	"bufio"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// forwarderDialTimeout bounds the dial to the target, so a connection to a
// target that does not answer is reset instead of held open.
const forwarderDialTimeout = 5 * time.Second

// forwarder is a TCP proxy from a loopback port to a target (PostgreSQL).
// Cut makes the target look stopped to everything behind the forwarder: open
// connections are reset, and new ones are reset as soon as they are
// accepted, which a client sees as quickly as a refused connection. Restore
// forwards again. The listener stays open throughout, so nobody else can
// take its port while the target is "down".
type forwarder struct {
	target string
	ln     net.Listener
	wg     sync.WaitGroup // the accept loop and every connection's goroutines

	mu    sync.Mutex
	down  bool
	hung  bool                  // with down: new connections are held open, never answered
	conns map[net.Conn]net.Conn // client side -> target side (nil while held)
}

// newForwarder listens on 127.0.0.1 and forwards to target until the test
// ends.
func newForwarder(tb testing.TB, target string) *forwarder {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("forwarder: %v", err)
	}
	f := &forwarder{target: target, ln: ln, conns: map[net.Conn]net.Conn{}}
	f.wg.Add(1)
	go f.accept()
	tb.Cleanup(func() {
		ln.Close()
		f.cut()
		f.wg.Wait()
	})
	return f
}

// addr returns the forwarder's host:port.
func (f *forwarder) addr() string { return f.ln.Addr().String() }

// cut resets every open connection and refuses new ones until restore. It
// returns how many connections it reset.
func (f *forwarder) cut() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down, f.hung = true, false
	return f.resetAllLocked()
}

// hang resets every open connection and, until restore, accepts new ones
// but never answers them: a database host that is unreachable, or a server
// that is stuck, rather than one that refuses. It returns how many
// connections it reset.
func (f *forwarder) hang() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down, f.hung = true, true
	return f.resetAllLocked()
}

func (f *forwarder) resetAllLocked() int {
	n := len(f.conns)
	for c, up := range f.conns {
		reset(c)
		if up != nil {
			up.Close()
		}
		delete(f.conns, c)
	}
	return n
}

// restore forwards new connections again; connections held by hang are
// reset.
func (f *forwarder) restore() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down, f.hung = false, false
	for c, up := range f.conns {
		if up == nil {
			reset(c)
			delete(f.conns, c)
		}
	}
}

func (f *forwarder) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return // the listener was closed
		}
		f.wg.Add(1)
		go f.handle(c)
	}
}

func (f *forwarder) handle(c net.Conn) {
	defer f.wg.Done()
	f.mu.Lock()
	down, hung := f.down, f.hung
	if hung {
		f.conns[c] = nil
	}
	f.mu.Unlock()
	switch {
	case hung:
		// Read and drop until the client gives up, or restore or the
		// end of the test resets c.
		_, _ = io.Copy(io.Discard, c)
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
		c.Close()
		return
	case down:
		reset(c)
		return
	}
	up, err := net.DialTimeout("tcp", f.target, forwarderDialTimeout)
	if err != nil {
		reset(c)
		return
	}
	// The target may have been cut while we dialled.
	f.mu.Lock()
	if f.down {
		f.mu.Unlock()
		reset(c)
		up.Close()
		return
	}
	f.conns[c] = up
	f.mu.Unlock()

	var pipes sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer pipes.Done()
		_, _ = io.Copy(dst, src)
		// One direction ending ends the connection, as it would between
		// the client and the target themselves.
		dst.Close()
		src.Close()
	}
	pipes.Add(2)
	go pipe(up, c)
	go pipe(c, up)
	pipes.Wait()
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
}

// reset closes c with an RST rather than a FIN, as a stopped server's
// kernel answers, so the client fails at once instead of reading an orderly
// end of stream.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

// TestForwarder checks the outage simulations themselves: bytes pass; cut
// breaks open connections and refuses new ones promptly; hang breaks open
// connections and leaves new ones unanswered; restore forwards again.
func TestForwarder(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	f := newForwarder(t, echo.Addr().String())

	// roundTrip sends a line and reads it back through a new or given
	// connection, bounded by a deadline.
	roundTrip := func(c net.Conn, r *bufio.Reader) error {
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.WriteString(c, "ping\n"); err != nil {
			return err
		}
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if line != "ping\n" {
			t.Fatalf("echo through the forwarder: %q", line)
		}
		return nil
	}
	dial := func() (net.Conn, *bufio.Reader, error) {
		c, err := net.DialTimeout("tcp", f.addr(), 2*time.Second)
		if err != nil {
			return nil, nil, err
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c), nil
	}
	// fresh round-trips on a new connection; while cut, the reset may
	// already fail the dial.
	fresh := func() error {
		c, r, err := dial()
		if err != nil {
			return err
		}
		return roundTrip(c, r)
	}

	c, r, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(c, r); err != nil {
		t.Fatalf("before the cut: %v", err)
	}
	if n := f.cut(); n != 1 {
		t.Errorf("cut reset %d connections, want 1", n)
	}
	start := time.Now()
	if err := roundTrip(c, r); err == nil {
		t.Error("an open connection still works after the cut")
	}
	if err := fresh(); err == nil {
		t.Error("a new connection works while cut")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("failing took %s: a cut database must fail fast, not hang", took)
	}
	f.restore()
	if err := fresh(); err != nil {
		t.Errorf("after restore: %v", err)
	}

	// hang: a new connection is accepted but never answered.
	c, r, err = dial()
	if err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(c, r); err != nil { // now the forwarder holds it
		t.Fatalf("before hang: %v", err)
	}
	if n := f.hang(); n < 1 { // the earlier connections may still be open too
		t.Errorf("hang reset %d connections, want at least 1", n)
	}
	if err := roundTrip(c, r); err == nil {
		t.Error("an open connection still works after hang")
	}
	c, r, err = dial()
	if err != nil {
		t.Fatalf("dial while hung: %v, want the connection accepted", err)
	}
	_ = c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		t.Fatalf("write while hung: %v", err)
	}
	if _, err := r.ReadString('\n'); !isTimeout(err) {
		t.Errorf("read while hung: %v, want a timeout (no answer, no reset)", err)
	}
	f.restore()
	if err := fresh(); err != nil {
		t.Errorf("after restore from hang: %v", err)
	}
}
