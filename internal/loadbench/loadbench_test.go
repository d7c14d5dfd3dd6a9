package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readSample returns a wrk report captured from wrk 4.1.0 (Debian) on
// this machine.
func readSample(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func TestParseWrk(t *testing.T) {
	// A report with larger units than the captured ones: seconds of
	// latency, GB transferred.
	bigUnits := strings.NewReplacer(
		"     50%    6.08ms", "     50%    1.50s",
		"     99%  775.78ms", "     99%    2.00m",
		"Transfer/sec:    287.22MB", "Transfer/sec:      1.50GB",
	).Replace(readSample(t, "wrk-segment.txt"))

	tests := []struct {
		name   string
		report string
		want   wrkResult
	}{
		{
			name:   "segments",
			report: readSample(t, "wrk-segment.txt"),
			want: wrkResult{
				Requests: 2082, ReqPerSec: 1469.82, BytesPerSec: 287.22 * (1 << 20),
				P50: 6080 * time.Microsecond, P99: 775780 * time.Microsecond,
			},
		},
		{
			name:   "non-2xx answers",
			report: readSample(t, "wrk-non2xx.txt"),
			want: wrkResult{
				Requests: 32896, ReqPerSec: 31126.28, BytesPerSec: 5.22 * (1 << 20),
				P50: 136 * time.Microsecond, P99: 159610 * time.Microsecond, Non2xx: 32896,
			},
		},
		{
			name:   "timeouts, zero latencies",
			report: readSample(t, "wrk-timeouts.txt"),
			want:   wrkResult{Requests: 4, ReqPerSec: 1.92, BytesPerSec: 226.68, SocketErrors: 4},
		},
		{
			name:   "read errors, nothing completed",
			report: readSample(t, "wrk-read-errors.txt"),
			want:   wrkResult{SocketErrors: 11275},
		},
		{
			name:   "large units",
			report: bigUnits,
			want: wrkResult{
				Requests: 2082, ReqPerSec: 1469.82, BytesPerSec: 1.5 * (1 << 30),
				P50: 1500 * time.Millisecond, P99: 2 * time.Minute,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk(tt.report)
			if err != nil {
				t.Fatalf("parseWrk: %v", err)
			}
			if !closeEnough(got.ReqPerSec, tt.want.ReqPerSec) || !closeEnough(got.BytesPerSec, tt.want.BytesPerSec) {
				t.Errorf("rates = %.2f req/s, %.2f B/s; want %.2f, %.2f", got.ReqPerSec, got.BytesPerSec, tt.want.ReqPerSec, tt.want.BytesPerSec)
			}
			got.ReqPerSec, got.BytesPerSec = tt.want.ReqPerSec, tt.want.BytesPerSec
			if got != tt.want {
				t.Errorf("parseWrk = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseWrkRefusesIncompleteReports(t *testing.T) {
	full := readSample(t, "wrk-segment.txt")
	tests := []struct {
		name string
		drop string // a line the report lacks
	}{
		{"no requests/sec", "Requests/sec:   1469.82\n"},
		{"no transfer/sec", "Transfer/sec:    287.22MB\n"},
		{"no request count", "  2082 requests in 1.42s, 406.85MB read\n"},
		{"no latency distribution (wrk without --latency)", "     99%  775.78ms\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			report := strings.Replace(full, tt.drop, "", 1)
			if report == full {
				t.Fatalf("sample lacks the line %q", tt.drop)
			}
			if _, err := parseWrk(report); !errors.Is(err, ErrWrkOutput) {
				t.Errorf("parseWrk error = %v, want ErrWrkOutput", err)
			}
		})
	}
}

func closeEnough(a, b float64) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	return d <= 1e-9*max(a, b, 1)
}

func TestPickURI(t *testing.T) {
	const base = "http://127.0.0.1:8080/api/hls/TOKEN/2/index.m3u8"
	tests := []struct {
		name        string
		body        string
		first, last string
	}{
		{
			name:  "relative and absolute URIs, CRLF",
			body:  "#EXTM3U\r\n#EXTINF:1,\r\nseg1.ts\r\n#EXTINF:1,\r\n/api/hls/T2/2/seg2.ts\r\n",
			first: "http://127.0.0.1:8080/api/hls/TOKEN/2/seg1.ts",
			last:  "http://127.0.0.1:8080/api/hls/T2/2/seg2.ts",
		},
		{
			name:  "the origin's live playlist",
			body:  string(audiencePlaylist(audienceFirstSeq + 9)),
			first: "http://127.0.0.1:8080/api/hls/TOKEN/2/seg1004.ts",
			last:  "http://127.0.0.1:8080/api/hls/TOKEN/2/seg1009.ts",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, err := firstURI(base, []byte(tt.body))
			if err != nil || first != tt.first {
				t.Errorf("firstURI = %q, %v; want %q", first, err, tt.first)
			}
			last, err := lastURI(base, []byte(tt.body))
			if err != nil || last != tt.last {
				t.Errorf("lastURI = %q, %v; want %q", last, err, tt.last)
			}
		})
	}
	t.Run("no URI", func(t *testing.T) {
		if u, err := lastURI(base, []byte("#EXTM3U\n#EXT-X-ENDLIST\n")); err == nil {
			t.Errorf("lastURI = %q, want an error", u)
		}
	})
}

func TestAudiencePlaylistSlides(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	o := newOrigin(1024, start)
	tests := []struct {
		name      string
		at        time.Duration
		wantSeq   int64
		wantFirst string
	}{
		{"at start", 0, audienceFirstSeq, "#EXT-X-MEDIA-SEQUENCE:1000\n"},
		{"within the first second", 999 * time.Millisecond, audienceFirstSeq, "#EXT-X-MEDIA-SEQUENCE:1000\n"},
		{"after ten seconds", 10 * time.Second, audienceFirstSeq + 10, "#EXT-X-MEDIA-SEQUENCE:1005\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq := o.audienceSeq(start.Add(tt.at))
			if seq != tt.wantSeq {
				t.Fatalf("audienceSeq = %d, want %d", seq, tt.wantSeq)
			}
			p := string(audiencePlaylist(seq))
			if !strings.Contains(p, tt.wantFirst) || strings.Contains(p, "#EXT-X-ENDLIST") {
				t.Errorf("playlist for %d:\n%s", seq, p)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ds := make([]time.Duration, 0, 100)
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		name string
		ds   []time.Duration
		p    int
		want time.Duration
	}{
		{"median of 1..100 ms", ds, 50, 50 * time.Millisecond},
		{"p99 of 1..100 ms", ds, 99, 99 * time.Millisecond},
		{"one sample", []time.Duration{7}, 99, 7},
		{"no samples", nil, 50, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.ds, tt.p); got != tt.want {
				t.Errorf("percentile(%d) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}
