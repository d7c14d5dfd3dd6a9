package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// liveResult is one live-audience run as the clients saw it.
type liveResult struct {
	Elapsed          time.Duration
	PlaylistRequests int64
	SegmentRequests  int64
	Bytes            int64
	Errors           int64
	FirstError       string
	PlaylistP50      time.Duration
	PlaylistP99      time.Duration
	SegmentP50       time.Duration
	SegmentP99       time.Duration
}

// ReqPerSec is the completed requests per second, playlists and segments.
func (r liveResult) ReqPerSec() float64 {
	return float64(r.PlaylistRequests+r.SegmentRequests) / r.Elapsed.Seconds()
}

// BytesPerSec is the body bytes received per second.
func (r liveResult) BytesPerSec() float64 { return float64(r.Bytes) / r.Elapsed.Seconds() }

// liveClient is one viewer's tally.
type liveClient struct {
	playlists, segments []time.Duration
	bytes, errors       int64
	firstErr            string
}

// runLive runs n viewers of one live stream for d: each loops on GET the
// playlist, GET its newest segment, as fast as hlsgate answers (no pacing:
// this measures how much fan-in hlsgate absorbs, not a polite player).
// Requests cut off by the end of the run are not errors.
func runLive(ctx context.Context, playlistURL, ua string, n int, d time.Duration) liveResult {
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        n * 2,
		MaxIdleConnsPerHost: n * 2,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	tallies := make([]liveClient, n)
	var wg sync.WaitGroup
	for i := range tallies {
		wg.Go(func() { viewer(ctx, client, playlistURL, ua, &tallies[i]) })
	}
	wg.Wait()

	res := liveResult{Elapsed: time.Since(start)}
	var pl, seg []time.Duration
	for _, t := range tallies {
		pl = append(pl, t.playlists...)
		seg = append(seg, t.segments...)
		res.Bytes += t.bytes
		res.Errors += t.errors
		if res.FirstError == "" {
			res.FirstError = t.firstErr
		}
	}
	res.PlaylistRequests, res.SegmentRequests = int64(len(pl)), int64(len(seg))
	res.PlaylistP50, res.PlaylistP99 = percentile(pl, 50), percentile(pl, 99)
	res.SegmentP50, res.SegmentP99 = percentile(seg, 50), percentile(seg, 99)
	return res
}

// viewer is one client's loop.
func viewer(ctx context.Context, client *http.Client, playlistURL, ua string, t *liveClient) {
	fail := func(err error) {
		if ctx.Err() != nil {
			return // the run ended mid-request
		}
		t.errors++
		if t.firstErr == "" {
			t.firstErr = err.Error()
		}
		// A failing hlsgate would otherwise be hammered in a tight loop.
		_ = sleepCtx(ctx, 10*time.Millisecond)
	}
	for ctx.Err() == nil {
		t0 := time.Now()
		st, body, err := get(ctx, client, playlistURL, ua)
		if err == nil && st != http.StatusOK {
			err = fmt.Errorf("playlist: status %d: %.200s", st, body)
		}
		if err != nil {
			fail(err)
			continue
		}
		t.playlists = append(t.playlists, time.Since(t0))
		t.bytes += int64(len(body))
		segURL, err := lastURI(playlistURL, body)
		if err != nil {
			fail(err)
			continue
		}
		t0 = time.Now()
		n, err := drain(ctx, client, segURL, ua)
		if err != nil {
			fail(err)
			continue
		}
		t.segments = append(t.segments, time.Since(t0))
		t.bytes += n
	}
}

// drain GETs a segment and discards its body, returning its length.
func drain(ctx context.Context, client *http.Client, rawURL, ua string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", ua)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return n, err
	}
	if resp.StatusCode != http.StatusOK {
		return n, fmt.Errorf("segment: status %d", resp.StatusCode)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, errors.New("segment: short body")
	}
	return n, nil
}

// percentile returns the p-th percentile (nearest rank) of ds, sorting ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := (len(ds)*p + 99) / 100 // ceil(len*p/100), 1-based rank
	return ds[max(i, 1)-1]
}
