package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

const (
	// viewerTimeout bounds each viewer request: a player that waits longer
	// than this for a 1 s segment has stalled, which counts as an error.
	viewerTimeout = 5 * time.Second
	// viewerReload is how often the viewer reloads the live playlist (the
	// stream's target duration).
	viewerReload = time.Second
	// viewerStartSegments is how many segments from the live edge the
	// viewer starts with, as players start about three target durations
	// behind it.
	viewerStartSegments = 3
	// maxViewerBody bounds what the viewer reads of one response.
	maxViewerBody = 16 << 20
)

// viewerError is one failure a real player would have shown or stalled on.
type viewerError struct {
	phase   string
	replica int // -1: no particular replica
	what    string
}

func (e viewerError) String() string {
	if e.replica < 0 {
		return fmt.Sprintf("[%s] %s", e.phase, e.what)
	}
	return fmt.Sprintf("[%s] replica %d: %s", e.phase, e.replica+1, e.what)
}

// connError is a request a replica did not answer (refused, reset); the
// load balancer sent it on to the next replica.
type connError struct {
	at      time.Time
	replica int
	err     error
}

// viewer plays one live stream like a player behind a round-robin load
// balancer: it reloads the playlist every viewerReload, fetches each new
// segment once, and sends every request to the next replica in turn (same
// path, other host:port, same User-Agent). A replica that does not answer at
// all is skipped at once, as a load balancer would; any answer other than
// 200 with a playlist or an MPEG-TS segment is a viewer error.
type viewer struct {
	client   *http.Client
	ua       string
	replicas []string // base URLs; a restarted replica keeps its address
	playlist string   // request URI of the playback URL: /api/hls/...

	mu        sync.Mutex
	next      int
	phase     string
	errs      []viewerError
	connErrs  []connError
	segments  map[string]int // phase -> segments fetched
	playlists map[string]int // phase -> playlists fetched
	served    []int          // replica -> answers
	lastSeg   string         // request URI of the last segment fetched
}

func newViewer(replicas []string, playbackURL, ua string) (*viewer, error) {
	u, err := url.Parse(playbackURL)
	if err != nil {
		return nil, err
	}
	return &viewer{
		client: &http.Client{
			Timeout:   viewerTimeout,
			Transport: &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second},
		},
		ua:        ua,
		replicas:  replicas,
		playlist:  u.RequestURI(),
		phase:     "start",
		segments:  map[string]int{},
		playlists: map[string]int{},
		served:    make([]int, len(replicas)),
	}, nil
}

// setPhase labels what happens next, for the per-phase counts and errors.
func (v *viewer) setPhase(p string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.phase = p
}

// counts returns the segments and playlists fetched in phase p.
func (v *viewer) counts(p string) (segments, playlists int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.segments[p], v.playlists[p]
}

// servedBy returns how many answers each replica gave so far.
func (v *viewer) servedBy() []int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]int(nil), v.served...)
}

// errors returns the viewer errors so far.
func (v *viewer) errors() []viewerError {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]viewerError(nil), v.errs...)
}

// connErrors returns the requests replicas did not answer.
func (v *viewer) connErrors() []connError {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]connError(nil), v.connErrs...)
}

// lastSegment returns the request URI of the last segment fetched.
func (v *viewer) lastSegment() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lastSeg
}

func (v *viewer) fail(replica int, format string, a ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.errs = append(v.errs, viewerError{phase: v.phase, replica: replica, what: fmt.Sprintf(format, a...)})
}

// run plays until ctx ends.
func (v *viewer) run(ctx context.Context) {
	defer v.client.CloseIdleConnections()
	seen := map[string]bool{}
	first := true
	for ctx.Err() == nil {
		reload := time.Now()
		body, ok := v.get(ctx, v.playlist, false)
		if ok && strings.Contains(string(body), "#EXT-X-STREAM-INF") {
			// A multivariant playlist (hlsgate answers a live media
			// playlist's playback URL with a one-variant one): play its
			// first variant from now on, as a player does.
			if uris := mediaURIs(body); len(uris) > 0 {
				base, _ := url.Parse(v.playlist)
				if ref, err := url.Parse(uris[0]); err == nil {
					v.playlist = base.ResolveReference(ref).RequestURI()
					continue
				}
			}
		}
		if ok {
			uris := mediaURIs(body)
			if first && len(uris) > viewerStartSegments {
				for _, u := range uris[:len(uris)-viewerStartSegments] {
					seen[segmentKey(u)] = true
				}
			}
			first = false
			for _, u := range uris {
				k := segmentKey(u)
				if seen[k] || ctx.Err() != nil {
					continue
				}
				seen[k] = true
				ref, err := url.Parse(u)
				if err != nil {
					v.fail(-1, "playlist URI %q: %v", u, err)
					continue
				}
				base, _ := url.Parse(v.playlist)
				v.get(ctx, base.ResolveReference(ref).RequestURI(), true)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(reload.Add(viewerReload))):
		}
	}
}

// get fetches uri, a segment or the playlist, from the next replica in
// turn, moving on to the one after when a replica does not answer. It
// reports whether the answer was a 200 with the right kind of body.
func (v *viewer) get(ctx context.Context, uri string, segment bool) ([]byte, bool) {
	check := isPlaylist
	if segment {
		check = isTSSegment
	}
	for range v.replicas {
		v.mu.Lock()
		i := v.next
		v.next = (v.next + 1) % len(v.replicas)
		v.mu.Unlock()

		status, body, err := v.fetch(ctx, v.replicas[i]+uri)
		switch {
		case ctx.Err() != nil:
			return nil, false // the test stopped the viewer
		case isTimeout(err):
			v.fail(i, "GET %s: stalled: %v", redactToken(uri), err)
			return nil, false
		case err != nil:
			v.mu.Lock()
			v.connErrs = append(v.connErrs, connError{at: time.Now(), replica: i, err: err})
			v.mu.Unlock()
			continue
		case status != http.StatusOK:
			v.fail(i, "GET %s: %d %s", redactToken(uri), status, strings.TrimSpace(string(body)))
			return nil, false
		}
		if err := check(body); err != nil {
			v.fail(i, "GET %s: %v", redactToken(uri), err)
			return nil, false
		}
		v.mu.Lock()
		v.served[i]++
		if segment {
			v.segments[v.phase]++
			v.lastSeg = uri
		} else {
			v.playlists[v.phase]++
		}
		v.mu.Unlock()
		return body, true
	}
	v.fail(-1, "GET %s: no replica answered", redactToken(uri))
	return nil, false
}

// fetch GETs u as the player. A body cut short (a replica killed mid-
// response) is a connection error like a refused connection.
func (v *viewer) fetch(ctx context.Context, u string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("User-Agent", v.ua)
	resp, err := v.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxViewerBody))
	if err != nil {
		return 0, nil, fmt.Errorf("read body: %w", err)
	}
	return resp.StatusCode, body, nil
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

func isPlaylist(b []byte) error {
	if !strings.HasPrefix(string(b), "#EXTM3U") {
		return fmt.Errorf("not a playlist: %.40q", b)
	}
	if len(mediaURIs(b)) == 0 {
		return errors.New("a live playlist with no segment")
	}
	return nil
}

// isTSSegment checks for an MPEG-TS body: whole 188-byte packets, each
// starting with the sync byte 0x47.
func isTSSegment(b []byte) error {
	if len(b) == 0 || len(b)%188 != 0 {
		return fmt.Errorf("not MPEG-TS: %d bytes", len(b))
	}
	for i := 0; i < len(b); i += 188 {
		if b[i] != 0x47 {
			return fmt.Errorf("not MPEG-TS: no sync byte at %d", i)
		}
	}
	return nil
}

// mediaURIs returns the URI lines of a playlist.
func mediaURIs(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// segmentKey names a segment independently of the token in its URI
// (/api/hls/{token}/{stream}/{path}), which changes between reloads.
func segmentKey(uri string) string {
	_, after, ok := strings.Cut(uri, "/api/hls/")
	if !ok {
		return uri
	}
	if _, rest, ok := strings.Cut(after, "/"); ok {
		return rest
	}
	return uri
}

// redactToken shortens a player URI for messages: the token is a
// credential and says nothing useful.
func redactToken(uri string) string {
	return "/api/hls/…/" + segmentKey(uri)
}
