package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrWrkOutput is returned when wrk's report lacks a figure loadbench needs.
var ErrWrkOutput = errors.New("unrecognised wrk output")

// wrkResult is what loadbench reads from one wrk report.
type wrkResult struct {
	Requests     int64         // completed requests
	ReqPerSec    float64       // "Requests/sec"
	BytesPerSec  float64       // "Transfer/sec" in bytes (wrk's KB/MB/GB are powers of 1024)
	P50, P99     time.Duration // from the --latency distribution
	SocketErrors int64         // connect + read + write + timeout
	Non2xx       int64         // "Non-2xx or 3xx responses"
}

// Errors is every failed request wrk counted.
func (r wrkResult) Errors() int64 { return r.SocketErrors + r.Non2xx }

var (
	reReqPerSec = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)\s*$`)
	reTransfer  = regexp.MustCompile(`(?m)^Transfer/sec:\s+([0-9.]+)([KMGTP]?)B\s*$`)
	reRequests  = regexp.MustCompile(`(?m)^\s+([0-9]+) requests in `)
	rePercent   = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.0+)?%\s+([0-9.]+)(us|ms|s|m|h)\s*$`)
	reSocket    = regexp.MustCompile(`(?m)^\s+Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)\s*$`)
	reNon2xx    = regexp.MustCompile(`(?m)^\s+Non-2xx or 3xx responses: ([0-9]+)\s*$`)
)

// binaryScale is wrk's unit prefixes (format_binary: powers of 1024).
var binaryScale = map[string]float64{"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}

// timeScale is wrk's time units (format_time_us).
var timeScale = map[string]float64{
	"us": float64(time.Microsecond), "ms": float64(time.Millisecond),
	"s": float64(time.Second), "m": float64(time.Minute), "h": float64(time.Hour),
}

// parseWrk reads the report wrk 4 prints with --latency. Requests/sec,
// Transfer/sec, the request count and the 50% and 99% latencies must be
// there; the error lines appear only when there were errors.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	m := reReqPerSec.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("%w: no Requests/sec line", ErrWrkOutput)
	}
	r.ReqPerSec, _ = strconv.ParseFloat(m[1], 64)
	m = reTransfer.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("%w: no Transfer/sec line", ErrWrkOutput)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	r.BytesPerSec = v * binaryScale[m[2]]
	m = reRequests.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("%w: no request count", ErrWrkOutput)
	}
	r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	// A run in which every request failed reports latencies of 0.00us.
	var got50, got99 bool
	for _, m := range rePercent.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		d := time.Duration(v * timeScale[m[3]])
		if m[1] == "50" {
			r.P50, got50 = d, true
		} else {
			r.P99, got99 = d, true
		}
	}
	if !got50 || !got99 {
		return r, fmt.Errorf("%w: no 50%% and 99%% latency (run wrk with --latency)", ErrWrkOutput)
	}
	if m := reSocket.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.SocketErrors += n
		}
	}
	if m := reNon2xx.FindStringSubmatch(out); m != nil {
		r.Non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return r, nil
}

// wrkArgs is one wrk run's shape.
type wrkArgs struct {
	Threads, Connections int
	Duration             time.Duration
	UserAgent            string
}

// runWrk runs wrk against url and parses its report; it also returns the
// CPU time wrk used. wrk is bounded by its own -d, and by ctx plus a
// margin should it hang; Ctrl-C reaches it as SIGINT, on which it stops
// and reports.
func runWrk(ctx context.Context, a wrkArgs, url string) (wrkResult, time.Duration, string, error) {
	ctx, cancel := context.WithTimeout(ctx, a.Duration+15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wrk",
		"-t"+strconv.Itoa(a.Threads), "-c"+strconv.Itoa(a.Connections),
		"-d"+strconv.Itoa(int(a.Duration.Round(time.Second)/time.Second))+"s",
		"--timeout", "5s", "--latency",
		"-H", "User-Agent: "+a.UserAgent, url)
	setProcAttrs(cmd)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return wrkResult{}, 0, stdout.String(), fmt.Errorf("wrk: %w", ctx.Err())
		}
		return wrkResult{}, 0, stdout.String(), fmt.Errorf("wrk: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	r, err := parseWrk(stdout.String())
	return r, cpu, stdout.String(), err
}
