package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSlowOriginNoPileUp: players that give up on a hanging origin leave no
// goroutines or upstream connections behind, and once the origin answers
// again playback recovers without a restart.
func TestSlowOriginNoPileUp(t *testing.T) {
	for _, c := range []struct {
		name  string
		cache int64
	}{{"shield", 8 << 20}, {"direct", 0}} {
		t.Run(c.name, func(t *testing.T) {
			var hanging atomic.Bool
			hanging.Store(true)
			f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if hanging.Load() {
					<-r.Context().Done() // hold until the proxy gives up on us
					return
				}
				w.Header().Set("Content-Type", "video/mp2t")
				io.WriteString(w, "ok")
			}), func(cfg *Config) { cfg.ResponseHeaderTimeout = 30 * time.Second; cfg.CacheSize = c.cache })

			base := runtime.NumGoroutine()
			var wg sync.WaitGroup
			for i := 0; i < 50; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
					defer cancel()
					// Several players per segment, so shared fetches are abandoned too.
					req, _ := http.NewRequestWithContext(ctx, "GET", f.url(fmt.Sprintf("seg%d.ts", i%10)), nil)
					req.Header.Set("User-Agent", testUA)
					if resp, err := http.DefaultClient.Do(req); err == nil {
						resp.Body.Close()
					}
				}()
			}
			wg.Wait()
			http.DefaultClient.CloseIdleConnections()
			if _, ok := eventually(10*time.Second, func() bool { return runtime.NumGoroutine() <= base+5 }); !ok {
				t.Errorf("goroutines: %d before, %d after 50 abandoned requests", base, runtime.NumGoroutine())
			}

			hanging.Store(false)
			resp := f.get(f.url("seg0.ts"))
			if resp.StatusCode != 200 || readBody(t, resp) != "ok" {
				t.Errorf("after the origin recovered: %d", resp.StatusCode)
			}
		})
	}
}

// TestOriginDownFailsFast: an origin that refuses connections is a 502 at
// once, not after a timeout.
func TestOriginDownFailsFast(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	f := newFixture(t, http.NotFoundHandler())
	f.streams.m[7] = Stream{ID: 7, OwnerID: 1, URL: dead + "/live/cam1/index.m3u8"}
	start := time.Now()
	wantJSONError(t, f.get(f.url("index.m3u8")), http.StatusBadGateway)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("502 took %s", d)
	}
}

func eventually(d time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			return time.Since(start), false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start), true
}

func TestUpstreamErrorsKeepQueriesOutOfLogs(t *testing.T) {
	err := redactURLError(&url.Error{Op: "Get", URL: "http://origin.example/live/seg.ts?auth=s3cret", Err: errors.New("connection refused")})
	if msg := err.Error(); strings.Contains(msg, "s3cret") || !strings.Contains(msg, "origin.example/live/seg.ts") || !strings.Contains(msg, "connection refused") {
		t.Errorf("redacted error: %q", msg)
	}
}
