package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a child gets between SIGTERM and SIGKILL.
const stopGrace = 3 * time.Second

// child is one process loadbench started (the origin or an hlsgate).
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string        // the child's stderr
	done    chan struct{} // closed once the process has exited
	err     error         // Wait's result, set before done closes
	once    sync.Once
	// quietUpTo is the length of the log at the end of start-up; only
	// what comes after it is reported (start-up warnings such as "created a
	// new signing key ring" are expected here).
	quietUpTo int64
}

// startChild starts cmd with its stderr going to logPath and reaps it in
// the background. The caller registers it with a children set.
func startChild(name string, cmd *exec.Cmd, logPath string) (*child, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s: log file: %w", name, err)
	}
	cmd.Stderr = logf
	setProcAttrs(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		logf.Close()
		close(c.done)
	}()
	return c, nil
}

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop ends the process: SIGTERM (hlsgate shuts down gracefully), then
// SIGKILL after stopGrace. It is safe to call more than once.
func (c *child) stop() {
	c.once.Do(func() {
		if c.exited() {
			return
		}
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
			return
		case <-time.After(stopGrace):
		}
		_ = c.cmd.Process.Kill()
		<-c.done
	})
}

// logTail returns the last n lines the child wrote to stderr, for error
// messages.
func (c *child) logTail(n int) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// markStarted notes the log's length at the end of start-up.
func (c *child) markStarted() {
	if fi, err := os.Stat(c.logPath); err == nil {
		c.quietUpTo = fi.Size()
	}
}

// logLines counts the non-empty lines the child wrote to stderr since
// markStarted and returns the first one; with -log-level warn every line
// is a warning.
func (c *child) logLines() (int, string) {
	b, err := os.ReadFile(c.logPath)
	if err != nil || int64(len(b)) < c.quietUpTo {
		return 0, ""
	}
	b = bytes.TrimSpace(b[c.quietUpTo:])
	if len(b) == 0 {
		return 0, ""
	}
	first, _, _ := bytes.Cut(b, []byte("\n"))
	return bytes.Count(b, []byte("\n")) + 1, string(first)
}

// diedError describes a child that exited when it should not have.
func (c *child) diedError() error {
	return fmt.Errorf("%s exited early (%v); last log lines:\n%s", c.name, c.err, c.logTail(20))
}

// children is every process loadbench started; stopAll ends them in
// reverse order of start.
type children struct {
	mu   sync.Mutex
	list []*child
}

func (cs *children) add(c *child) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.list = append(cs.list, c)
}

func (cs *children) stopAll() {
	cs.mu.Lock()
	list := cs.list
	cs.list = nil
	cs.mu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		list[i].stop()
	}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
