// Command loadbench (make bench-load) measures hlsgate under load on
// loopback and compares it with fetching from the origin directly.
//
// It builds hlsgate, starts an origin (this binary re-executed in a hidden
// "origin" mode, so the origin is a process of its own) and hlsgate as a
// real "hlsgate serve" process on 127.0.0.1 with a fresh SQLite database,
// signs up a user over the API, adds the streams and asks for playback URLs
// with the User-Agent the load generators send. Every URL through hlsgate
// is one a player would use: the segment URL is taken from the rewritten
// playlist, token and all. One request of each kind is checked before any
// load starts, and again after each hlsgate restart.
//
// Cases:
//
//   - wrk (-t2 -c64 -d10s --latency by default) against a 200 KB segment
//     and against a small 10-segment media playlist, each three ways:
//     directly at the origin; through hlsgate as configured by default,
//     with its origin shield (concurrent fetches collapsed, answers cached:
//     segments for minutes, live playlists for a fraction of their target
//     duration); and through hlsgate -cache-size 0, a plain proxy like
//     nginx proxy_pass. Through hlsgate a segment costs a token check and
//     a streamed pass-through; a playlist costs that plus the rewrite, with
//     a freshly signed token in every URI.
//   - live audience: 200 clients (a Go generator in this process) of one
//     live stream whose media sequence advances every second, each looping
//     "GET the playlist, GET its newest segment" without pacing, run once
//     with hlsgate's default -cache-size and once with -cache-size 0.
//
// How to read the output:
//
//   - req/s, MiB/s (wrk's "MB" are MiB), p50 and p99 latency per case and
//     path. The figure that matters is the ratio hlsgate/direct of req/s:
//     the share of the origin's own throughput left once every request
//     goes through hlsgate on the same cores. It is printed beside the
//     figures nginx secure_link + proxy_pass reached on this machine (0.37
//     for segments, 0.57 for the small playlist). nginx proxy_pass does
//     not cache, so the -cache-size 0 column is the like-for-like one; the
//     default column is what a deployment gets (a ratio above 1 means
//     hlsgate answered from memory faster than the origin serves).
//   - µs hlsgate, µs origin, µs wrk: CPU time each process spent per
//     request (Linux: /proc, and wrk's rusage). "by CPU" divides the direct
//     total by the through-hlsgate total: the ratio if CPU were the only
//     limit. On two shared cores that is what decides req/s, and unlike
//     req/s it barely moves when other work runs on the machine.
//   - live audience: "origin/segment" is origin requests per distinct
//     segment and "origin/refresh" origin requests per playlist version
//     (the origin counts them). Without request collapsing every client
//     request is an origin request, so they grow with the audience; with
//     the shield they should be near 1 (a playlist is re-fetched each time
//     its micro-cache expires, a few times per version).
//   - errors are wrk's socket errors plus non-2xx answers, or the
//     generator's failed requests; hlsgate's warnings logged after start-up
//     are counted when each hlsgate stops.
//
// Absolute numbers depend on the machine and on everything sharing its
// cores (wrk, the origin and hlsgate all run here, and a warning is printed
// when the machine is already busy); compare ratios, and runs made on the
// same machine. Everything is bounded: building hlsgate within 5 minutes
// (a cold cache compiles SQLite), the rest within -timeout (2m20s with the
// defaults; a run takes about 85 s); every child process is stopped on
// exit or Ctrl-C, and killed by the kernel should loadbench itself be
// killed; the temporary folder is removed (except after a SIGKILL).
//
// loadbench drives hlsgate from outside, as a player would, and imports
// none of its packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// Reference ratios hlsgate/direct of requests/s that nginx secure_link +
// proxy_pass reached on the benchmark machine (from the issue).
const (
	nginxSegmentRatio  = 0.37
	nginxPlaylistRatio = 0.57
)

// loadRuns is how many timed load runs one benchmark makes: three wrk
// runs (direct, hlsgate, hlsgate -cache-size 0) for each of two cases, and
// two live-audience runs.
const loadRuns = 8

// buildTimeout bounds "go build" of hlsgate.
const buildTimeout = 5 * time.Minute

// userAgent is sent by every load generator; playback URLs are bound to it.
const userAgent = "hlsgate-loadbench/1 (wrk)"

func main() {
	if len(os.Args) > 1 && os.Args[1] == originModeCommand {
		if err := runOrigin(os.Args[2:], os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "loadbench origin:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are loadbench's flags.
type options struct {
	Duration    time.Duration // per wrk case and per live run
	Threads     int
	Connections int
	Clients     int
	SegmentSize int
	Timeout     time.Duration // the whole run
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("loadbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.DurationVar(&o.Duration, "d", 10*time.Second, "duration of each wrk case and each live-audience run (1s to 20s)")
	fs.IntVar(&o.Threads, "t", 2, "wrk threads")
	fs.IntVar(&o.Connections, "c", 64, "wrk connections (at least 64 for a meaningful figure)")
	fs.IntVar(&o.Clients, "clients", 200, "live-audience clients")
	fs.IntVar(&o.SegmentSize, "segment-size", 200<<10, "bytes per segment")
	fs.DurationVar(&o.Timeout, "timeout", 0, "upper bound on the run once hlsgate is built (default: 8 × -d, the load itself, plus 1m)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var errs []error
	if o.Duration < time.Second || o.Duration > 20*time.Second {
		errs = append(errs, fmt.Errorf("-d: want 1s to 20s, got %s", o.Duration))
	}
	if o.Threads < 1 || o.Connections < o.Threads {
		errs = append(errs, errors.New("-t and -c: want at least one thread and as many connections as threads"))
	}
	if o.Clients < 1 || o.Clients > 5000 {
		errs = append(errs, fmt.Errorf("-clients: want 1 to 5000, got %d", o.Clients))
	}
	if o.SegmentSize < 1024 || o.SegmentSize > 64<<20 {
		errs = append(errs, fmt.Errorf("-segment-size: want 1 KiB to 64 MiB, got %d", o.SegmentSize))
	}
	switch {
	case o.Timeout < 0:
		errs = append(errs, errors.New("-timeout: must not be negative"))
	case o.Timeout == 0:
		// Six wrk runs and two live runs, plus building and start-up.
		o.Timeout = loadRuns*o.Duration + time.Minute
	}
	return o, errors.Join(errs...)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadbench:", err)
		return 2
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		fmt.Fprintln(stderr, "loadbench: wrk is not installed (or not in PATH). Install it with\n"+
			"  sudo apt-get install wrk      # Debian, Ubuntu\n"+
			"  brew install wrk              # macOS\n"+
			"or build it from https://github.com/wg/wrk, then run make bench-load again.")
		return 1
	}
	b := &bench{opts: opts, out: stdout, progress: stderr, client: &http.Client{Timeout: 10 * time.Second}}
	if err := b.run(ctx); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "loadbench: interrupted; children stopped, temporary files removed")
		} else {
			fmt.Fprintln(stderr, "loadbench:", err)
		}
		return 1
	}
	return 0
}

// bench is one benchmark run.
type bench struct {
	opts     options
	out      io.Writer // the figures
	progress io.Writer // what is happening, and warnings
	client   *http.Client
	procs    children
	dir      string // temporary: hlsgate binary, database, logs

	gateBin    string
	origin     *child
	originBase string
	gate       *gate // the hlsgate running now
	// Playback URLs through the current hlsgate, bound to 127.0.0.1 and
	// userAgent; audienceURL's host is replaced when hlsgate restarts.
	playlistURL string
	segmentURL  string
	audienceURL string
}

func (b *bench) logf(format string, a ...any) { fmt.Fprintf(b.progress, format+"\n", a...) }

func (b *bench) run(ctx context.Context) (err error) {
	if b.dir, err = os.MkdirTemp("", "hlsgate-loadbench-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.dir)
	defer b.procs.stopAll() // runs before the folder goes

	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	b.warnIfBusy()
	b.logf("building hlsgate…")
	// A cold build cache compiles SQLite through cgo, which can take
	// minutes on two cores; it has a bound of its own, outside -timeout.
	bctx, bcancel := context.WithTimeout(ctx, buildTimeout)
	b.gateBin, err = buildGate(bctx, root, b.dir, b.progress)
	bcancel()
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, b.opts.Timeout)
	defer cancel()
	defer func() {
		if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("the run took longer than -timeout %s: %w", b.opts.Timeout, err)
		}
	}()
	if b.origin, b.originBase, err = startOrigin(ctx, &b.procs, b.dir, b.opts.SegmentSize); err != nil {
		return err
	}
	if b.gate, err = startGate(ctx, &b.procs, b.client, b.gateBin, b.dir, "hlsgate"); err != nil {
		return err
	}
	if err := b.setUp(ctx); err != nil {
		return err
	}
	if err := b.check(ctx); err != nil {
		return err
	}

	seg := caseResult{name: segmentCaseName(b.opts.SegmentSize), nginx: nginxSegmentRatio}
	pl := caseResult{name: fmt.Sprintf("playlist (%d segs)", playlistSegments), nginx: nginxPlaylistRatio}
	steps := []struct {
		what string
		url  *string
		res  *measured
	}{
		{seg.name + " direct", strPtr(b.originBase + pathSegment), &seg.direct},
		{pl.name + " direct", strPtr(b.originBase + pathPlaylist), &pl.direct},
		{seg.name + " through hlsgate", &b.segmentURL, &seg.shield},
		{pl.name + " through hlsgate", &b.playlistURL, &pl.shield},
	}
	for _, st := range steps {
		if *st.res, err = b.wrk(ctx, st.what, *st.url); err != nil {
			return err
		}
	}
	var live [2]liveRow
	if live[0], err = b.liveCase(ctx, "default"); err != nil {
		return err
	}
	b.stopGate()

	// The same database and key ring: the playback URLs stay valid; the
	// segment URL is taken afresh from the new replica's playlist.
	if b.gate, err = startGate(ctx, &b.procs, b.client, b.gateBin, b.dir, "hlsgate-nocache", "-cache-size", "0"); err != nil {
		return err
	}
	for _, u := range []*string{&b.playlistURL, &b.audienceURL} {
		if *u, err = onBase(*u, b.gate.base); err != nil {
			return err
		}
	}
	if err := b.check(ctx); err != nil {
		return err
	}
	if seg.plain, err = b.wrk(ctx, seg.name+" through hlsgate -cache-size 0", b.segmentURL); err != nil {
		return err
	}
	if pl.plain, err = b.wrk(ctx, pl.name+" through hlsgate -cache-size 0", b.playlistURL); err != nil {
		return err
	}
	if live[1], err = b.liveCase(ctx, "0"); err != nil {
		return err
	}
	b.stopGate()

	b.reportWrk([]caseResult{seg, pl})
	b.reportLive(live[:])
	return nil
}

func strPtr(s string) *string { return &s }

// warnIfBusy says so when the machine is already loaded: every process
// here shares the same cores, so other work skews the figures (the ratios
// less than the absolute numbers, but it does).
func (b *bench) warnIfBusy() {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return // not Linux
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return
	}
	load, err := strconv.ParseFloat(f[0], 64)
	if err == nil && load > 0.5*float64(runtime.NumCPU()) {
		b.logf("warning: load average %.1f on %d CPUs before starting: other work is running and will skew the figures", load, runtime.NumCPU())
	}
}

// setUp signs a user up, adds the two streams and keeps their playback URLs.
func (b *bench) setUp(ctx context.Context) error {
	a := &api{client: b.client, base: b.gate.base, ua: userAgent}
	if err := a.signUp(ctx, "loadbench", "loadbench-password"); err != nil {
		return fmt.Errorf("sign up: %w", err)
	}
	var err error
	if b.playlistURL, err = a.addStream(ctx, "small", b.originBase+pathPlaylist); err != nil {
		return fmt.Errorf("add stream: %w", err)
	}
	if b.audienceURL, err = a.addStream(ctx, "audience", b.originBase+pathAudience); err != nil {
		return fmt.Errorf("add stream: %w", err)
	}
	// Both are live media playlists, whose playback URLs answer a
	// one-variant multivariant playlist: load what players reload, the
	// variant.
	for _, u := range []*string{&b.playlistURL, &b.audienceURL} {
		if *u, err = b.followVariant(ctx, *u); err != nil {
			return err
		}
	}
	return nil
}

// followVariant returns the first variant of the multivariant playlist at
// u, or u itself when it is a media playlist.
func (b *bench) followVariant(ctx context.Context, u string) (string, error) {
	st, body, err := get(ctx, b.client, u, userAgent)
	if err != nil || st != http.StatusOK {
		return "", fmt.Errorf("playback URL: status %d, err %v: %.300s", st, err, body)
	}
	if !strings.Contains(string(body), "#EXT-X-STREAM-INF") {
		return u, nil
	}
	return firstURI(u, body)
}

// stopGate stops the current hlsgate and passes on what it logged.
func (b *bench) stopGate() {
	g := b.gate
	g.proc.stop()
	if n, first := g.proc.logLines(); n > 0 {
		b.logf("%s logged %d warning lines; the first: %s", g.proc.name, n, first)
	}
}

// check fetches each URL the load will hit once, and finds the segment URL
// in the playlist as rewritten by hlsgate.
func (b *bench) check(ctx context.Context) error {
	if err := b.checkOK(ctx, "direct playlist", b.originBase+pathPlaylist, -1); err != nil {
		return err
	}
	if err := b.checkOK(ctx, "direct segment", b.originBase+pathSegment, b.opts.SegmentSize); err != nil {
		return err
	}
	st, body, err := get(ctx, b.client, b.playlistURL, userAgent)
	if err != nil || st != http.StatusOK {
		return fmt.Errorf("playlist through hlsgate: status %d, err %v: %.300s", st, err, body)
	}
	if !strings.Contains(string(body), "/api/hls/") {
		return fmt.Errorf("playlist through hlsgate is not rewritten:\n%s", body)
	}
	if b.segmentURL, err = firstURI(b.playlistURL, body); err != nil {
		return fmt.Errorf("playlist through hlsgate: %w", err)
	}
	if err := b.checkOK(ctx, "segment through hlsgate", b.segmentURL, b.opts.SegmentSize); err != nil {
		return err
	}
	return b.checkAudience(ctx)
}

// checkAudience plays the live stream once through the current hlsgate.
func (b *bench) checkAudience(ctx context.Context) error {
	st, body, err := get(ctx, b.client, b.audienceURL, userAgent)
	if err != nil || st != http.StatusOK {
		return fmt.Errorf("live playlist through hlsgate: status %d, err %v: %.300s", st, err, body)
	}
	seg, err := lastURI(b.audienceURL, body)
	if err != nil {
		return fmt.Errorf("live playlist through hlsgate: %w", err)
	}
	return b.checkOK(ctx, "live segment through hlsgate", seg, b.opts.SegmentSize)
}

// checkOK GETs url once and wants a 200 (and size bytes, unless size < 0).
func (b *bench) checkOK(ctx context.Context, what, url string, size int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := b.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: status %d: %.300s", what, resp.StatusCode, body)
	}
	if size >= 0 && (len(body) != size || resp.ContentLength != int64(size)) {
		return fmt.Errorf("%s: got %d bytes with Content-Length %d, want %d", what, len(body), resp.ContentLength, size)
	}
	return nil
}

// caseResult is one wrk case: directly at the origin, through hlsgate
// with its default origin shield (request collapsing and cache), and
// through hlsgate with -cache-size 0, a plain proxy like nginx
// proxy_pass.
type caseResult struct {
	name                  string
	direct, shield, plain measured
	nginx                 float64 // nginx secure_link + proxy_pass / direct
}

// measured is one wrk run and the CPU time each process spent on it.
type measured struct {
	wrk wrkResult
	cpu cpuUse
}

// cpuUse is the CPU time (user plus system) each process used during a
// run. Unlike requests/s it barely depends on what else the machine is
// doing, so it still compares hlsgate with the origin on a busy machine.
type cpuUse struct {
	Gate, Origin, Wrk time.Duration
	OK                bool // Gate and Origin could be read (Linux)
}

// perRequest returns the CPU µs per request of each process and of all.
func (c cpuUse) perRequest(requests int64) (gate, origin, wrk, total float64) {
	if requests <= 0 {
		return 0, 0, 0, 0
	}
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) / float64(requests) }
	return us(c.Gate), us(c.Origin), us(c.Wrk), us(c.Gate + c.Origin + c.Wrk)
}

// cpuRatio is what the hlsgate/direct ratio of req/s would be if CPU were
// the only limit and nothing else ran: direct CPU per request over
// through-hlsgate CPU per request, all processes counted.
func cpuRatio(direct, through measured) (float64, bool) {
	if !direct.cpu.OK || !through.cpu.OK {
		return 0, false
	}
	_, _, _, d := direct.cpu.perRequest(direct.wrk.Requests)
	_, _, _, t := through.cpu.perRequest(through.wrk.Requests)
	if t == 0 {
		return 0, false
	}
	return d / t, true
}

// cpuNow reads the CPU time used so far by the current hlsgate and the
// origin.
func (b *bench) cpuNow() (gate, origin time.Duration, ok bool) {
	g, ok1 := procCPU(b.gate.proc.cmd.Process.Pid)
	o, ok2 := procCPU(b.origin.cmd.Process.Pid)
	return g, o, ok1 && ok2
}

// wrk runs one wrk load against url.
func (b *bench) wrk(ctx context.Context, what, url string) (measured, error) {
	b.logf("wrk: %s for %s…", what, b.opts.Duration)
	a := wrkArgs{Threads: b.opts.Threads, Connections: b.opts.Connections, Duration: b.opts.Duration, UserAgent: userAgent}
	g0, o0, ok0 := b.cpuNow()
	res, wrkCPU, out, err := runWrk(ctx, a, url)
	g1, o1, ok1 := b.cpuNow()
	if err == nil && res.Requests == 0 {
		err = errors.New("no request completed")
	}
	if err != nil {
		return measured{}, fmt.Errorf("wrk %s: %w\n%s", what, err, out)
	}
	return measured{wrk: res, cpu: cpuUse{Gate: g1 - g0, Origin: o1 - o0, Wrk: wrkCPU, OK: ok0 && ok1}}, nil
}

func segmentCaseName(size int) string {
	return fmt.Sprintf("segment (%d KB)", (size+512)>>10)
}

func (b *bench) reportWrk(cases []caseResult) {
	fmt.Fprintf(b.out, "\nhlsgate load benchmark on loopback: %d CPUs, wrk -t%d -c%d -d%s --latency\n\n",
		runtime.NumCPU(), b.opts.Threads, b.opts.Connections, b.opts.Duration)
	tw := tabwriter.NewWriter(b.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tvia\treq/s\tMiB/s\tp50\tp99\terrors\tµs hlsgate\tµs origin\tµs wrk\tµs all\t")
	row := func(name, via string, m measured) {
		r := m.wrk
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.1f\t%s\t%s\t%d\t", name, via, r.ReqPerSec, r.BytesPerSec/(1<<20),
			fmtDur(r.P50), fmtDur(r.P99), r.Errors())
		g, o, w, all := m.cpu.perRequest(r.Requests)
		if m.cpu.OK {
			fmt.Fprintf(tw, "%.1f\t%.1f\t%.1f\t%.1f\t\n", g, o, w, all)
		} else {
			fmt.Fprintf(tw, "-\t-\t%.1f\t-\t\n", w)
		}
	}
	for _, c := range cases {
		row(c.name, "direct", c.direct)
		row(c.name, "hlsgate", c.shield)
		row(c.name, "hlsgate -cache-size 0", c.plain)
	}
	tw.Flush()
	fmt.Fprintln(b.out, "µs: CPU time (user + system) each process spent per request")

	fmt.Fprintln(b.out, "\nhlsgate/direct of req/s, beside nginx secure_link + proxy_pass on this machine:")
	tw = tabwriter.NewWriter(b.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\thlsgate\thlsgate -cache-size 0\tnginx\tbeats nginx (default / -cache-size 0)\tby CPU (default / -cache-size 0)\t")
	for _, c := range cases {
		shield, plain := c.shield.wrk.ReqPerSec/c.direct.wrk.ReqPerSec, c.plain.wrk.ReqPerSec/c.direct.wrk.ReqPerSec
		byCPU := "-"
		if cs, ok := cpuRatio(c.direct, c.shield); ok {
			cp, _ := cpuRatio(c.direct, c.plain)
			byCPU = fmt.Sprintf("%.2f / %.2f", cs, cp)
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%s / %s\t%s\t\n", c.name, shield, plain, c.nginx, yesNo(shield > c.nginx), yesNo(plain > c.nginx), byCPU)
	}
	tw.Flush()
	fmt.Fprintln(b.out, "nginx proxy_pass does not cache: -cache-size 0 is the like-for-like figure. \"by CPU\" is direct CPU per request\n"+
		"over through-hlsgate CPU per request, every process counted: the ratio if CPU were the only limit, which holds\n"+
		"up when other work on the machine skews req/s.")
	for _, c := range cases {
		for _, v := range []struct {
			via string
			r   wrkResult
		}{{"direct", c.direct.wrk}, {"hlsgate", c.shield.wrk}, {"hlsgate -cache-size 0", c.plain.wrk}} {
			if v.r.Errors() > 0 {
				fmt.Fprintf(b.out, "warning: %s via %s: %d failed requests (%d socket errors, %d non-2xx)\n",
					c.name, v.via, v.r.Errors(), v.r.SocketErrors, v.r.Non2xx)
			}
		}
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// liveRow is one live-audience run with the origin's view of it.
type liveRow struct {
	cacheSize string
	res       liveResult
	origin    originStats
	cpu       cpuUse // the generator runs in this process and is not counted
}

// liveCase runs the live audience against g and reads the origin's
// counters for exactly that run.
func (b *bench) liveCase(ctx context.Context, cacheSize string) (liveRow, error) {
	g := b.gate
	if _, err := fetchOriginStats(ctx, b.client, b.originBase, true); err != nil {
		return liveRow{}, err
	}
	b.logf("live audience: %d clients for %s, hlsgate -cache-size %s…", b.opts.Clients, b.opts.Duration, cacheSize)
	g0, o0, ok0 := b.cpuNow()
	res := runLive(ctx, b.audienceURL, userAgent, b.opts.Clients, b.opts.Duration)
	g1, o1, ok1 := b.cpuNow()
	if err := ctx.Err(); err != nil {
		return liveRow{}, err
	}
	if res.SegmentRequests == 0 {
		return liveRow{}, fmt.Errorf("live audience, -cache-size %s: no segment fetched; the first error: %s", cacheSize, res.FirstError)
	}
	if g.proc.exited() {
		return liveRow{}, g.proc.diedError()
	}
	st, err := fetchOriginStats(ctx, b.client, b.originBase, false)
	if err != nil {
		return liveRow{}, err
	}
	return liveRow{cacheSize: cacheSize, res: res, origin: st, cpu: cpuUse{Gate: g1 - g0, Origin: o1 - o0, OK: ok0 && ok1}}, nil
}

func (b *bench) reportLive(rows []liveRow) {
	fmt.Fprintf(b.out, "\nlive audience: one live stream (1 s segments, media sequence +1 a second), %d clients looping\n"+
		"\"GET playlist, GET its newest segment\" through hlsgate for %s each, unpaced\n\n", b.opts.Clients, b.opts.Duration)
	tw := tabwriter.NewWriter(b.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "-cache-size\treq/s\tMiB/s\tplaylist p50/p99\tsegment p50/p99\torigin/segment\torigin/refresh\terrors\thlsgate CPU µs/req\t")
	for _, r := range rows {
		gateCPU := "-"
		if g, _, _, _ := r.cpu.perRequest(r.res.PlaylistRequests + r.res.SegmentRequests); r.cpu.OK {
			gateCPU = fmt.Sprintf("%.1f", g)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%s/%s\t%s/%s\t%s\t%s\t%d\t%s\t\n", r.cacheSize, r.res.ReqPerSec(), r.res.BytesPerSec()/(1<<20),
			fmtDur(r.res.PlaylistP50), fmtDur(r.res.PlaylistP99), fmtDur(r.res.SegmentP50), fmtDur(r.res.SegmentP99),
			perEach(r.origin.SegmentRequests, r.origin.Segments), perEach(r.origin.PlaylistRequests, r.origin.PlaylistVersions), r.res.Errors, gateCPU)
	}
	tw.Flush()
	fmt.Fprintln(b.out)
	for _, r := range rows {
		fmt.Fprintf(b.out, "-cache-size %s: clients made %d playlist and %d segment requests; the origin saw %d playlist requests over %d versions and %d segment requests for %d segments\n",
			r.cacheSize, r.res.PlaylistRequests, r.res.SegmentRequests,
			r.origin.PlaylistRequests, r.origin.PlaylistVersions, r.origin.SegmentRequests, r.origin.Segments)
		if r.res.Errors > 0 {
			fmt.Fprintf(b.out, "warning: -cache-size %s: %d failed requests; the first: %s\n", r.cacheSize, r.res.Errors, r.res.FirstError)
		}
	}
}

// perEach formats n/of with one decimal, or "-" when of is zero.
func perEach(n, of int64) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(n)/float64(of))
}

// fmtDur prints a latency with three significant figures.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}
