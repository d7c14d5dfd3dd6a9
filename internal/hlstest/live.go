package hlstest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Live stream geometry.
const (
	// LiveListSize is how many segments the live playlist lists at a time.
	LiveListSize = 4
	// liveMaxRun caps the ffmpeg -re run: Cleanup stops it long before, and
	// Pdeathsig kills it if the test binary dies, but a cap makes sure an
	// orphan ends on its own wherever neither of those applies.
	liveMaxRun = 10 * time.Minute
	// livePoll is how often WaitReady looks at the playlist.
	livePoll = 100 * time.Millisecond
)

// ErrLiveExited is returned by WaitReady when the live ffmpeg process ended.
var ErrLiveExited = errors.New("hlstest: live ffmpeg exited")

// Live is a live HLS origin: ffmpeg -re writes a sliding-window MPEG-TS
// playlist (1 s segments, LiveListSize segments listed, old segments deleted,
// EXT-X-PROGRAM-DATE-TIME between each EXTINF and its URI) into a temporary
// directory that an Origin serves. ffmpeg runs until the test's Cleanup.
type Live struct {
	Origin *Origin
	// Entry is the playlist's path on the origin, "/live/index.m3u8".
	Entry string
	// URL is the playlist's absolute URL on the origin.
	URL string

	file   string // the playlist on disk
	stderr *tailBuffer
	done   chan struct{} // closed when ffmpeg has exited
	err    error         // ffmpeg's exit error, set before done closes
}

// NewLive starts the live ffmpeg and its Origin (configured by opts). Call
// WaitReady before playing: the first segment appears after about a second.
func NewLive(tb testing.TB, opts ...OriginOption) *Live {
	tb.Helper()
	ff := RequireFFmpeg(tb)
	dir := tb.TempDir()
	sub := filepath.Join(dir, "live")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		tb.Fatalf("hlstest: %v", err)
	}
	o := NewOrigin(tb, dir, opts...)
	l := &Live{
		Origin: o,
		Entry:  "/live/index.m3u8",
		URL:    o.URLFor("live/index.m3u8"),
		file:   filepath.Join(sub, "index.m3u8"),
		stderr: &tailBuffer{max: 16 << 10},
		done:   make(chan struct{}),
	}
	args := concat(
		[]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-re"},
		sourceArgs(),
		[]string{"-t", fmt.Sprintf("%d", int(liveMaxRun.Seconds())), "-threads", "1"},
		videoArgs(), audioArgs(), hlsArgs(),
		[]string{
			"-hls_list_size", fmt.Sprint(LiveListSize),
			// Keep deleted segments around a little longer than the window
			// so a player (or proxy) a beat behind does not get a 404.
			"-hls_delete_threshold", "3",
			"-hls_flags", "delete_segments+temp_file+program_date_time",
			"-hls_segment_filename", filepath.Join(sub, "seg_%05d.ts"),
			l.file,
		})
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, ff, args...)
	cmd.Stderr = l.stderr
	setProcAttrs(cmd)
	cmd.WaitDelay = 3 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		tb.Fatalf("hlstest: start live ffmpeg: %v", err)
	}
	go func() {
		l.err = cmd.Wait()
		close(l.done)
	}()
	// Registered after TempDir and NewOrigin, so it runs first: ffmpeg must
	// stop writing before the origin closes and the directory is removed.
	tb.Cleanup(func() {
		cancel()
		<-l.done // bounded by WaitDelay
	})
	return l
}

// Segments returns the segment URIs the playlist lists now (none before
// ffmpeg wrote it).
func (l *Live) Segments() ([]string, error) {
	text, err := os.ReadFile(l.file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hlstest: live playlist: %w", err)
	}
	var segs []string
	for _, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			segs = append(segs, line)
		}
	}
	return segs, nil
}

// WaitReady waits until the live playlist lists at least minSegments segments,
// ffmpeg exits (ErrLiveExited, with its stderr), or ctx ends.
func (l *Live) WaitReady(ctx context.Context, minSegments int) error {
	t := time.NewTicker(livePoll)
	defer t.Stop()
	for {
		segs, err := l.Segments()
		if err != nil {
			return err
		}
		if len(segs) >= minSegments {
			return nil
		}
		select {
		case <-l.done:
			return fmt.Errorf("%w: %v: %s", ErrLiveExited, l.err, l.stderr.String())
		case <-ctx.Done():
			return fmt.Errorf("hlstest: live playlist has %d of %d segments: %w", len(segs), minSegments, ctx.Err())
		case <-t.C:
		}
	}
}

// tailBuffer is an io.Writer keeping the last max bytes written, safe for
// concurrent use, so a long-running child's stderr cannot grow without bound.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
