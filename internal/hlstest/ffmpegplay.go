package hlstest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ErrPlayback is wrapped by FFmpegPlay and HLSJSPlay when the player ran but
// did not play the stream as required; the message says why.
var ErrPlayback = errors.New("playback failed")

// defaultPlayTimeout bounds a play whose context has no deadline.
const defaultPlayTimeout = 60 * time.Second

// ffmpegFailures are stderr lines from ffmpeg's HLS demuxer and HTTP client
// that mean the stream was not played in full. ffmpeg logs most of them as
// warnings and still exits 0 (it skips a segment it cannot open), so the exit
// status alone would let a 403 on a segment pass.
func ffmpegFailures() []string {
	return []string{
		"Failed to open segment",
		"Unable to open key file",
		"Failed to reload playlist",
		"Error when loading first segment",
		"Failed to open an initialization section",
		"parse_playlist error",
		"HTTP error",
		"Server returned",
		"Invalid data found",
		"decryption failed",
		"Error opening input",
	}
}

// FFmpegOption configures FFmpegPlay.
type FFmpegOption func(*ffmpegConfig)

type ffmpegConfig struct {
	userAgent string
	headers   []string
	duration  time.Duration
}

// FFmpegUserAgent sets the User-Agent ffmpeg sends (its default is
// "Lavf/<version>").
func FFmpegUserAgent(ua string) FFmpegOption {
	return func(c *ffmpegConfig) { c.userAgent = ua }
}

// FFmpegHeader adds a request header to every HTTP request ffmpeg makes.
func FFmpegHeader(name, value string) FFmpegOption {
	return func(c *ffmpegConfig) { c.headers = append(c.headers, name+": "+value+"\r\n") }
}

// FFmpegDuration stops after d of media has been read (ffmpeg's output -t),
// which a live stream needs since it never ends.
func FFmpegDuration(d time.Duration) FFmpegOption {
	return func(c *ffmpegConfig) { c.duration = d }
}

// FFmpegResult is what an FFmpegPlay run produced.
type FFmpegResult struct {
	// Stderr is ffmpeg's log at level warning.
	Stderr string
	// OutTime is the timestamp ffmpeg's copy reached, from its -progress
	// report: about the media duration read.
	OutTime time.Duration
}

// FFmpegPlay plays url to the end with ffmpeg as the HLS client (all streams
// of every variant and rendition, copied to a null muxer, nothing decoded). It
// fails with ErrPlayback when ffmpeg exits non-zero, logs a line that means a
// playlist, key or segment was not fetched, or copies no media. It is bounded
// by ctx, or by 60 s when ctx has no deadline.
func FFmpegPlay(ctx context.Context, tb testing.TB, url string, opts ...FFmpegOption) (FFmpegResult, error) {
	tb.Helper()
	ff := RequireFFmpeg(tb)
	var cfg ffmpegConfig
	for _, o := range opts {
		o(&cfg)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultPlayTimeout)
		defer cancel()
	}

	args := []string{"-nostdin", "-hide_banner", "-loglevel", "warning", "-nostats",
		// A stalled read fails after 10 s instead of hanging until ctx ends.
		"-rw_timeout", "10000000"}
	if cfg.userAgent != "" {
		args = append(args, "-user_agent", cfg.userAgent)
	}
	if len(cfg.headers) > 0 {
		args = append(args, "-headers", strings.Join(cfg.headers, ""))
	}
	args = append(args, "-i", url, "-map", "0", "-c", "copy")
	if cfg.duration > 0 {
		args = append(args, "-t", strconv.FormatFloat(cfg.duration.Seconds(), 'f', 3, 64))
	}
	args = append(args, "-progress", "pipe:1", "-f", "null", "-")

	cmd := exec.CommandContext(ctx, ff, args...)
	var stderr, stdout bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stdout
	setProcAttrs(cmd)
	cmd.WaitDelay = 3 * time.Second
	runErr := cmd.Run()

	res := FFmpegResult{Stderr: stderr.String()}
	res.OutTime = parseProgress(&stdout)
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("hlstest: ffmpeg play %s: %w: %w\n%s", url, ErrPlayback, ctx.Err(), res.Stderr)
	case runErr != nil:
		return res, fmt.Errorf("hlstest: ffmpeg play %s: %w: %w\n%s", url, ErrPlayback, runErr, res.Stderr)
	}
	for _, f := range ffmpegFailures() {
		if strings.Contains(res.Stderr, f) {
			return res, fmt.Errorf("hlstest: ffmpeg play %s: %w: ffmpeg logged %q\n%s", url, ErrPlayback, f, res.Stderr)
		}
	}
	if res.OutTime <= 0 {
		return res, fmt.Errorf("hlstest: ffmpeg play %s: %w: no media copied\n%s", url, ErrPlayback, res.Stderr)
	}
	return res, nil
}

// FFmpegPlayLive reads a live stream for d of media with ffmpeg; see
// FFmpegPlay.
func FFmpegPlayLive(ctx context.Context, tb testing.TB, url string, d time.Duration, opts ...FFmpegOption) (FFmpegResult, error) {
	tb.Helper()
	return FFmpegPlay(ctx, tb, url, append(opts, FFmpegDuration(d))...)
}

// parseProgress returns the last out_time_us of ffmpeg's -progress
// key=value report (total_size stays 0 with the null muxer, so it proves
// nothing).
func parseProgress(r io.Reader) time.Duration {
	var out time.Duration
	sc := bufio.NewScanner(r) // lines are short key=value pairs
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		if k != "out_time_us" {
			continue
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out = time.Duration(n) * time.Microsecond
		}
	}
	return out
}
