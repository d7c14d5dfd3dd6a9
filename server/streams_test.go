package server_test

import (
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const originURL = "https://origin.example/live/index.m3u8"

func TestStreamsCRUD(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		tok := e.user(t, "alice")

		if list := e.listStreams(t, tok); len(list) != 0 {
			t.Fatalf("new user has streams %+v", list)
		}
		r := e.do(t, http.MethodGet, "/api/streams", tok, nil).want(t, http.StatusOK)
		if got := strings.TrimSpace(string(r.Body)); got != `{"streams":[]}` {
			t.Errorf("empty list is %s, want {\"streams\":[]}", got)
		}

		// POST /api/streams: 201 with Location.
		r = e.do(t, http.MethodPost, "/api/streams", tok, map[string]string{"name": " Lobby ", "url": originURL}).want(t, http.StatusCreated)
		var st streamOut
		r.decode(t, &st)
		if loc := r.Header.Get("Location"); loc != "/api/streams/"+strconv.FormatInt(st.ID, 10) {
			t.Errorf("Location %q, want /api/streams/%d", loc, st.ID)
		}
		if st.ID <= 0 || st.Name != "Lobby" || st.URL != originURL || !st.CreatedAt.Equal(t0) || !st.UpdatedAt.Equal(t0) || st.ExtraOrigins == nil {
			t.Errorf("created %+v", st)
		}
		// A stream without a name is named after its URL.
		unnamed := e.createStream(t, tok, "", "https://cdn.example/cam/2/index.m3u8")
		if unnamed.Name != "cdn.example/cam/2" {
			t.Errorf("default name %q, want cdn.example/cam/2", unnamed.Name)
		}

		// GET /api/streams lists both with every field.
		r = e.do(t, http.MethodGet, "/api/streams", tok, nil).want(t, http.StatusOK)
		var raw struct {
			Streams []map[string]any `json:"streams"`
		}
		r.decode(t, &raw)
		if len(raw.Streams) != 2 {
			t.Fatalf("%d streams listed, want 2", len(raw.Streams))
		}
		for _, f := range []string{"id", "name", "url", "created_at", "updated_at"} {
			if _, ok := raw.Streams[0][f]; !ok {
				t.Errorf("listed stream lacks %q: %v", f, raw.Streams[0])
			}
		}
		path := "/api/streams/" + strconv.FormatInt(st.ID, 10)
		var got streamOut
		e.do(t, http.MethodGet, path, tok, nil).want(t, http.StatusOK).decode(t, &got)
		if got.ID != st.ID || got.URL != originURL {
			t.Errorf("GET %s gave %+v", path, got)
		}

		// PUT replaces name, URL and extra origins.
		e.clock.Advance(time.Minute)
		const newURL = "https://origin.example/live2/index.m3u8"
		e.do(t, http.MethodPut, path, tok, map[string]any{"name": "Hall", "url": newURL, "extra_origins": []string{"https://CDN.example:443/"}}).want(t, http.StatusOK).decode(t, &got)
		if got.ID != st.ID || got.Name != "Hall" || got.URL != newURL || !got.UpdatedAt.Equal(t0.Add(time.Minute)) || !got.CreatedAt.Equal(t0) ||
			len(got.ExtraOrigins) != 1 || got.ExtraOrigins[0] != "https://cdn.example" {
			t.Errorf("PUT gave %+v", got)
		}
		r = e.do(t, http.MethodPut, path, tok, map[string]any{"url": newURL, "extra_origins": []string{"https://cdn.example/path"}}).want(t, http.StatusBadRequest)
		if msg := r.errMsg(t); !strings.Contains(msg, "origin only") {
			t.Errorf("extra origin with a path: error %q", msg)
		}

		// POST /api/update-stream updates the caller's own stream...
		e.clock.Advance(time.Minute)
		e.do(t, http.MethodPost, "/api/update-stream", tok, map[string]any{"streamID": st.ID, "newUrl": originURL}).want(t, http.StatusOK).decode(t, &got)
		if got.ID != st.ID || got.URL != originURL || got.Name != "Hall" || !got.UpdatedAt.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("update-stream gave %+v", got)
		}
		// ...or creates one when the caller has none with that id.
		e.do(t, http.MethodPost, "/api/update-stream", tok, map[string]any{"streamID": 999999, "newUrl": "https://origin.example/new/index.m3u8"}).want(t, http.StatusCreated).decode(t, &got)
		if got.ID == 999999 || got.ID == st.ID || got.URL != "https://origin.example/new/index.m3u8" {
			t.Errorf("update-stream of an unknown id gave %+v", got)
		}
		if n := len(e.listStreams(t, tok)); n != 3 {
			t.Errorf("%d streams, want 3", n)
		}
		for _, tc := range []struct {
			name string
			body string
			want string
		}{
			{"no streamID", `{"newUrl":"` + originURL + `"}`, "streamID is required"},
			{"negative streamID", `{"streamID":-1,"newUrl":"` + originURL + `"}`, "streamID must not be negative"},
			{"string streamID", `{"streamID":"1","newUrl":"` + originURL + `"}`, `"streamID"`},
			{"no newUrl", `{"streamID":1}`, "newUrl is required"},
			{"bad newUrl", `{"streamID":1,"newUrl":"ftp://x.example/a.m3u8"}`, "newUrl must be an absolute http or https URL"},
		} {
			t.Run("update-stream "+tc.name, func(t *testing.T) {
				r := e.do(t, http.MethodPost, "/api/update-stream", tok, tc.body).want(t, http.StatusBadRequest)
				if msg := r.errMsg(t); !strings.Contains(msg, tc.want) {
					t.Errorf("error %q, want it to contain %q", msg, tc.want)
				}
			})
		}

		// DELETE, then the stream is gone everywhere.
		e.do(t, http.MethodDelete, path, tok, nil).want(t, http.StatusNoContent)
		e.do(t, http.MethodGet, path, tok, nil).want(t, http.StatusNotFound)
		e.do(t, http.MethodDelete, path, tok, nil).want(t, http.StatusNotFound)
		e.do(t, http.MethodGet, path+"/playback", tok, nil).want(t, http.StatusNotFound)
		for _, bad := range []string{"0", "-1", "abc", "1e3", "99999999999999999999"} {
			e.do(t, http.MethodGet, "/api/streams/"+bad, tok, nil).want(t, http.StatusNotFound)
		}
	})
}

// TestStreamIsolation: two users can neither see nor touch each other's
// streams, and cannot even tell that they exist.
func TestStreamIsolation(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		a := e.user(t, "alice")
		b := e.user(t, "bob")
		bs := e.createStream(t, b, "bob's", originURL)
		bPath := "/api/streams/" + strconv.FormatInt(bs.ID, 10)
		missing := "/api/streams/" + strconv.FormatInt(bs.ID+1000, 10)

		if list := e.listStreams(t, a); len(list) != 0 {
			t.Errorf("alice sees %+v", list)
		}
		put := map[string]string{"name": "mine now", "url": "https://evil.example/x.m3u8"}
		for _, tc := range []struct {
			method, suffix string
			body           any
		}{
			{http.MethodGet, "", nil},
			{http.MethodPut, "", put},
			{http.MethodDelete, "", nil},
			{http.MethodGet, "/playback", nil},
		} {
			t.Run(tc.method+tc.suffix, func(t *testing.T) {
				theirs := e.do(t, tc.method, bPath+tc.suffix, a, tc.body).want(t, http.StatusNotFound)
				none := e.do(t, tc.method, missing+tc.suffix, a, tc.body).want(t, http.StatusNotFound)
				if string(theirs.Body) != string(none.Body) {
					t.Errorf("another user's stream answers %s, a missing one %s: they must not differ", theirs.Body, none.Body)
				}
			})
		}
		e.do(t, http.MethodGet, "/api/stream?streamID="+strconv.FormatInt(bs.ID, 10), a, nil).want(t, http.StatusNotFound)

		// update-stream with bob's id creates a new stream for alice.
		var got streamOut
		e.do(t, http.MethodPost, "/api/update-stream", a, map[string]any{"streamID": bs.ID, "newUrl": "https://evil.example/x.m3u8"}).want(t, http.StatusCreated).decode(t, &got)
		if got.ID == bs.ID {
			t.Errorf("update-stream with bob's id returned bob's id")
		}
		if list := e.listStreams(t, a); len(list) != 1 || list[0].ID != got.ID {
			t.Errorf("alice's streams %+v, want only %d", list, got.ID)
		}

		var after streamOut
		e.do(t, http.MethodGet, bPath, b, nil).want(t, http.StatusOK).decode(t, &after)
		if !reflect.DeepEqual(after, bs) {
			t.Errorf("bob's stream changed: %+v, was %+v", after, bs)
		}
		if list := e.listStreams(t, b); len(list) != 1 {
			t.Errorf("bob's streams %+v, want his one", list)
		}
	})
}

func TestStreamURLValidation(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		// Without -allow-private-upstreams.
		e := newEnvFlags(t, engine)
		tok := e.user(t, "alice")

		for _, tc := range []struct {
			name, url, want string
		}{
			{"empty", "", "url is required"},
			{"relative path", "/live/index.m3u8", "absolute http or https URL"},
			{"relative name", "index.m3u8", "absolute http or https URL"},
			{"ftp", "ftp://origin.example/index.m3u8", "absolute http or https URL"},
			{"javascript", "javascript:alert(1)", "absolute http or https URL"},
			{"file", "file:///etc/passwd", "absolute http or https URL"},
			{"no host", "http:///index.m3u8", "must have a host"},
			{"port only", "http://:8080/index.m3u8", "must have a host"},
			{"user info", "https://user:secret@origin.example/index.m3u8", "must not carry user info"},
			{"user only", "https://user@origin.example/index.m3u8", "must not carry user info"},
			{"too long", "https://origin.example/" + strings.Repeat("a", 2048) + ".m3u8", "longer than 2048 bytes"},
			{"fragment", "https://origin.example/index.m3u8#t=10", "must not have a #fragment"},
			{"not a URL", "http://exa mple.com/index.m3u8", "not a valid URL"},
			{"loopback", "http://127.0.0.1/index.m3u8", "non-public address"},
			{"loopback with port", "http://127.0.0.1:8080/index.m3u8", "non-public address"},
			{"private", "http://10.0.0.1/index.m3u8", "non-public address"},
			{"private 192.168", "http://192.168.1.10/index.m3u8", "non-public address"},
			{"cloud metadata", "http://169.254.169.254/latest/meta-data/", "non-public address"},
			{"IPv6 loopback", "http://[::1]/index.m3u8", "non-public address"},
			{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]/index.m3u8", "non-public address"},
			{"unspecified", "http://0.0.0.0/index.m3u8", "non-public address"},
			{"localhost", "http://localhost/index.m3u8", "loopback name"},
			// proxy.CheckHost matches the name "localhost" case-sensitively; the
			// upper-case form is refused by its DNS check instead.
			{"localhost upper case", "http://LOCALHOST:8080/index.m3u8", "set -allow-private-upstreams"},
			{"sub.localhost", "http://cam.localhost/index.m3u8", "loopback name"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do(t, http.MethodPost, "/api/streams", tok, map[string]string{"url": tc.url}).want(t, http.StatusBadRequest)
				msg := r.errMsg(t)
				if !strings.Contains(msg, tc.want) || !strings.HasPrefix(msg, "url") {
					t.Errorf("error %q, want it to start with the field name url and contain %q", msg, tc.want)
				}
				if tc.url != "" && strings.Contains(msg, "secret") {
					t.Errorf("error %q echoes the URL's password", msg)
				}
				// The same check guards PUT and update-stream.
				e.do(t, http.MethodPost, "/api/update-stream", tok, map[string]any{"streamID": 1, "newUrl": tc.url}).want(t, http.StatusBadRequest)
				e.do(t, http.MethodPost, "/api/streams", tok, map[string]any{"url": "https://93.184.215.14/index.m3u8", "extra_origins": []string{tc.url}}).want(t, http.StatusBadRequest)
			})
		}
		if n := len(e.listStreams(t, tok)); n != 0 {
			t.Errorf("%d streams stored from invalid URLs", n)
		}
		// A public IP literal is fine (no DNS involved).
		e.createStream(t, tok, "", "https://93.184.215.14/live/index.m3u8")
		r := e.do(t, http.MethodPost, "/api/streams", tok, map[string]string{"name": strings.Repeat("n", 201), "url": originURL}).want(t, http.StatusBadRequest)
		if msg := r.errMsg(t); !strings.Contains(msg, "name is longer than 200") {
			t.Errorf("long name: error %q", msg)
		}

		// With -allow-private-upstreams, LAN and loopback origins are allowed.
		lan := newEnv(t, engine)
		ltok := lan.user(t, "alice")
		for _, u := range []string{"http://127.0.0.1:8080/index.m3u8", "http://10.0.0.1/index.m3u8", "http://localhost/index.m3u8", "http://[::1]/index.m3u8"} {
			lan.createStream(t, ltok, "", u)
		}
	})
}

// playbackOut is the body of a playback endpoint.
type playbackOut struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// streamToken returns the stream token segment of a playback URL.
func streamToken(tb testing.TB, playbackURL string) string {
	tb.Helper()
	u, err := url.Parse(playbackURL)
	if err != nil {
		tb.Fatalf("playback URL %q: %v", playbackURL, err)
	}
	_, rest, ok := strings.Cut(u.Path, "/api/hls/")
	tok, _, _ := strings.Cut(rest, "/")
	if !ok || tok == "" {
		tb.Fatalf("playback URL %q has no /api/hls/{token}/", playbackURL)
	}
	return tok
}

func TestPlayback(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine, "-public-url=https://video.example.com/tv/")
		e.register(t, "alice", testPassword)
		login := e.login(t, "alice", testPassword)
		tok := login.Token
		b := e.user(t, "bob")
		st := e.createStream(t, tok, "", originURL)
		bs := e.createStream(t, b, "", originURL)
		id := strconv.FormatInt(st.ID, 10)

		check := func(t *testing.T, path string) playbackOut {
			t.Helper()
			var p playbackOut
			e.do(t, http.MethodGet, path, tok, nil).want(t, http.StatusOK).decode(t, &p)
			now := e.clock.Now()
			if want := "https://video.example.com/tv/api/hls/"; !strings.HasPrefix(p.URL, want) {
				t.Errorf("url %q, want it to start with %q", p.URL, want)
			}
			if want := "/" + id + "/index.m3u8"; !strings.HasSuffix(p.URL, want) {
				t.Errorf("url %q, want it to end with %q", p.URL, want)
			}
			if len(streamToken(t, p.URL)) < 20 {
				t.Errorf("url %q carries no real token", p.URL)
			}
			if p.ExpiresAt.After(now.Add(e.cfg.PlaybackTTL)) || !p.ExpiresAt.After(now) {
				t.Errorf("expires_at %s, want in (%s, %s]", p.ExpiresAt, now, now.Add(e.cfg.PlaybackTTL))
			}
			if p.ExpiresAt.After(login.ExpiresAt) {
				t.Errorf("expires_at %s is past the session's end %s", p.ExpiresAt, login.ExpiresAt)
			}
			return p
		}
		for _, path := range []string{"/api/stream?streamID=" + id, "/api/streams/" + id + "/playback"} {
			t.Run(path, func(t *testing.T) {
				p := check(t, path)
				if want := e.clock.Now().Add(e.cfg.PlaybackTTL); !p.ExpiresAt.Equal(want) {
					t.Errorf("expires_at %s, want %s", p.ExpiresAt, want)
				}
			})
		}

		for _, tc := range []struct{ query, want string }{
			{"", "streamID is required"},
			{"?streamID=", "streamID is required"},
			{"?streamID=abc", "positive integer"},
			{"?streamID=0", "positive integer"},
			{"?streamID=-3", "positive integer"},
			{"?streamID=1.5", "positive integer"},
			{"?streamID=99999999999999999999", "positive integer"},
			{"?id=" + id, "streamID is required"},
		} {
			t.Run("query "+tc.query, func(t *testing.T) {
				r := e.do(t, http.MethodGet, "/api/stream"+tc.query, tok, nil).want(t, http.StatusBadRequest)
				if msg := r.errMsg(t); !strings.Contains(msg, tc.want) {
					t.Errorf("error %q, want it to contain %q", msg, tc.want)
				}
			})
		}
		other := strconv.FormatInt(bs.ID, 10)
		e.do(t, http.MethodGet, "/api/stream?streamID="+other, tok, nil).want(t, http.StatusNotFound)
		e.do(t, http.MethodGet, "/api/streams/"+other+"/playback", tok, nil).want(t, http.StatusNotFound)
		e.do(t, http.MethodGet, "/api/stream?streamID=424242", tok, nil).want(t, http.StatusNotFound)
		e.do(t, http.MethodGet, "/api/stream?streamID="+id, "", nil).want(t, http.StatusUnauthorized)

		// Near the session's end the URL expires with the session.
		e.clock.Advance(e.cfg.SessionTTL - 3*time.Minute)
		p := check(t, "/api/streams/"+id+"/playback")
		if !p.ExpiresAt.Equal(login.ExpiresAt) {
			t.Errorf("expires_at %s, want the session's end %s", p.ExpiresAt, login.ExpiresAt)
		}

		// Without -public-url the URL is built from the request.
		h := newEnv(t, engine)
		htok := h.user(t, "carol")
		hs := h.createStream(t, htok, "", originURL)
		var hp playbackOut
		h.do(t, http.MethodGet, "/api/stream?streamID="+strconv.FormatInt(hs.ID, 10), htok, nil).want(t, http.StatusOK).decode(t, &hp)
		if want := h.ts.URL + "/api/hls/"; !strings.HasPrefix(hp.URL, want) {
			t.Errorf("url %q, want it to start with %q", hp.URL, want)
		}
	})
}
