package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Origin paths. The small playlist and the audience playlist name their
// segments relative to their own folder, as origins usually do.
const (
	pathSegment       = "/live/seg.ts"              // the 200 KB segment, fetched directly
	pathPlaylist      = "/live/index.m3u8"          // small static media playlist
	pathAudience      = "/live/audience/index.m3u8" // live playlist, one new segment a second
	audienceDir       = "/live/audience/"
	pathStats         = "/_loadbench/stats" // GET: audience counters; POST: reset them
	playlistSegments  = 10
	audienceListSize  = 6
	audienceFirstSeq  = 1000 // media sequence at origin start, so numbers are not tiny
	originModeCommand = "origin"
)

// originStats are the origin's counters for the live-audience case.
type originStats struct {
	SegmentRequests  int64 `json:"segment_requests"`  // GETs of audience segments
	Segments         int64 `json:"segments"`          // distinct audience segments requested
	PlaylistRequests int64 `json:"playlist_requests"` // GETs of the audience playlist
	PlaylistVersions int64 `json:"playlist_versions"` // distinct media sequences served
}

// origin serves the benchmark's HLS content from memory.
type origin struct {
	seg   []byte
	small []byte // the small playlist
	start time.Time

	mu       sync.Mutex
	segReqs  map[int64]int64 // audience segment sequence -> requests
	playReqs map[int64]int64 // audience media sequence -> playlist requests
}

func newOrigin(segSize int, now time.Time) *origin {
	o := &origin{seg: makeSegment(segSize), start: now, segReqs: map[int64]int64{}, playReqs: map[int64]int64{}}
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:100\n")
	for i := range playlistSegments {
		fmt.Fprintf(&b, "#EXTINF:4.000,\nseg%d.ts\n", 100+i)
	}
	o.small = []byte(b.String())
	return o
}

// makeSegment returns n bytes laid out as MPEG-TS packets (a 0x47 sync
// byte every 188 bytes), so nothing sniffs it as a playlist.
func makeSegment(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		if i%188 == 0 {
			b[i] = 0x47
		} else {
			b[i] = byte(i)
		}
	}
	return b
}

// audienceSeq is the newest media sequence number at t: one segment a
// second since the origin started.
func (o *origin) audienceSeq(t time.Time) int64 {
	return audienceFirstSeq + int64(t.Sub(o.start)/time.Second)
}

// audiencePlaylist is the live playlist whose newest segment is seq.
func audiencePlaylist(seq int64) []byte {
	first := max(seq-audienceListSize+1, audienceFirstSeq)
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:%d\n", first)
	for s := first; s <= seq; s++ {
		fmt.Fprintf(&b, "#EXTINF:1.000,\nseg%d.ts\n", s)
	}
	return []byte(b.String())
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == pathStats:
		o.serveStats(w, r)
	case p == pathPlaylist:
		writeBody(w, r, "application/vnd.apple.mpegurl", o.small)
	case p == pathAudience:
		seq := o.audienceSeq(time.Now())
		o.mu.Lock()
		o.playReqs[seq]++
		o.mu.Unlock()
		writeBody(w, r, "application/vnd.apple.mpegurl", audiencePlaylist(seq))
	case strings.HasPrefix(p, audienceDir) && strings.HasSuffix(p, ".ts"):
		seq, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(p, audienceDir+"seg"), ".ts"), 10, 64)
		if err != nil || seq < audienceFirstSeq || seq > o.audienceSeq(time.Now()) {
			http.NotFound(w, r)
			return
		}
		o.mu.Lock()
		o.segReqs[seq]++
		o.mu.Unlock()
		writeBody(w, r, "video/mp2t", o.seg)
	case strings.HasPrefix(p, "/live/") && strings.HasSuffix(p, ".ts") && !strings.Contains(p[len("/live/"):], "/"):
		// seg.ts and the small playlist's seg100.ts..seg109.ts: the same bytes.
		writeBody(w, r, "video/mp2t", o.seg)
	default:
		http.NotFound(w, r)
	}
}

func writeBody(w http.ResponseWriter, r *http.Request, contentType string, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{contentType}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

func (o *origin) serveStats(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if r.Method == http.MethodPost {
		o.segReqs = map[int64]int64{}
		o.playReqs = map[int64]int64{}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var st originStats
	for _, n := range o.segReqs {
		st.SegmentRequests += n
		st.Segments++
	}
	for _, n := range o.playReqs {
		st.PlaylistRequests += n
		st.PlaylistVersions++
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

// runOrigin is the hidden "origin" mode: loadbench re-executes itself with
// it so that the origin is a process of its own, as it is in front of
// nginx, and its CPU is not mixed up with the load generator's. It prints
// the address it listens on as its first line of stdout and serves until
// its stdin closes (loadbench exited) or it gets SIGINT or SIGTERM.
func runOrigin(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadbench origin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	segSize := fs.Int("segment-size", 200<<10, "bytes per segment")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("origin: listen: %w", err)
	}
	hs := &http.Server{
		Handler:           newOrigin(*segSize, time.Now()),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Fprintln(stdout, ln.Addr().String())
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		stop()
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("origin: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	return nil
}

// startOrigin re-executes this binary in origin mode and returns the
// process and its base URL.
func startOrigin(ctx context.Context, procs *children, dir string, segSize int) (*child, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", fmt.Errorf("origin: find own executable: %w", err)
	}
	cmd := exec.Command(self, originModeCommand, "-segment-size", strconv.Itoa(segSize))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	// The origin exits when this pipe closes, i.e. when loadbench exits
	// by any means; it never reads from it otherwise.
	if _, err := cmd.StdinPipe(); err != nil {
		return nil, "", err
	}
	c, err := startChild("origin", cmd, dir+"/origin.log")
	if err != nil {
		return nil, "", err
	}
	procs.add(c)
	addrc := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		addrc <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case addr := <-addrc:
		if addr == "" {
			return nil, "", c.diedError()
		}
		return c, "http://" + addr, nil
	case <-time.After(10 * time.Second):
		return nil, "", errors.New("origin: no address within 10s")
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
}

// fetchOriginStats reads (or, with reset, clears) the origin's audience
// counters.
func fetchOriginStats(ctx context.Context, client *http.Client, base string, reset bool) (originStats, error) {
	method := http.MethodGet
	if reset {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, base+pathStats, nil)
	if err != nil {
		return originStats{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return originStats{}, fmt.Errorf("origin stats: %w", err)
	}
	defer resp.Body.Close()
	var st originStats
	if reset {
		return st, nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&st); err != nil {
		return originStats{}, fmt.Errorf("origin stats: %w", err)
	}
	return st, nil
}
