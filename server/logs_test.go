package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

const mediaPlaylist = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:4.0,\nseg0.ts\n#EXTINF:4.0,\nseg1.ts\n#EXT-X-ENDLIST\n"

// TestLogsHoldNoSecrets runs register, login (failed and good), playback
// through the proxy and logout with the log captured, then looks for every
// secret that passed by.
func TestLogsHoldNoSecrets(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/live/index.m3u8":
				w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
				io.WriteString(w, mediaPlaylist)
			case "/live/seg0.ts", "/live/seg1.ts":
				w.Header().Set("Content-Type", "video/mp2t")
				w.Write(make([]byte, 188))
			default:
				http.NotFound(w, r)
			}
		}))
		defer origin.Close()

		e := newEnv(t, engine)
		const password = "Zebra-Quartz-9731"
		const wrongPassword = "Wrong-Walrus-5512"
		e.register(t, "alice", password)
		e.do(t, http.MethodPost, "/api/login", "", map[string]string{"username": "alice", "password": wrongPassword}).want(t, http.StatusUnauthorized)
		jwt := e.login(t, "alice", password).Token
		e.do(t, http.MethodPost, "/api/password", jwt, map[string]string{"current_password": wrongPassword, "new_password": wrongPassword}).want(t, http.StatusForbidden)
		st := e.createStream(t, jwt, "cam", origin.URL+"/live/index.m3u8")

		var p playbackOut
		e.do(t, http.MethodGet, "/api/streams/"+itoa(st.ID)+"/playback", jwt, nil).want(t, http.StatusOK).decode(t, &p)
		secrets := map[string]string{
			"password":       password,
			"wrong password": wrongPassword,
			"JWT":            jwt,
			"JWT signature":  jwt[strings.LastIndexByte(jwt, '.')+1:],
			"stream token":   streamToken(t, p.URL),
		}

		// Play: the playlist, then each URI it lists (each with a fresh token).
		playlist := fetch(t, e, p.URL)
		n := 0
		for _, line := range strings.Split(playlist, "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			u, err := url.Parse(p.URL)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := u.Parse(line)
			if err != nil {
				t.Fatalf("playlist line %q: %v", line, err)
			}
			secrets["segment token "+itoa(int64(n))] = streamToken(t, ref.String())
			fetch(t, e, ref.String())
			n++
		}
		if n != 2 {
			t.Fatalf("rewritten playlist lists %d URIs, want 2:\n%s", n, playlist)
		}
		e.do(t, http.MethodPost, "/api/logout", jwt, nil).want(t, http.StatusNoContent)
		e.do(t, http.MethodGet, "/api/streams", jwt, nil).want(t, http.StatusUnauthorized)

		logs := e.logs.String()
		// The log did see the flow, so the absence below means something.
		for _, want := range []string{"path=/api/login status=401", "path=/api/logout status=204", "path=/api/hls/…/" + itoa(st.ID) + "/seg1.ts", "login failed"} {
			if !strings.Contains(logs, want) {
				t.Errorf("log lacks %q:\n%s", want, logs)
			}
		}
		for what, secret := range secrets {
			if secret == "" {
				t.Fatalf("%s is empty", what)
			}
			if strings.Contains(logs, secret) {
				t.Errorf("the log holds the %s:\n%s", what, logs)
			}
		}
	})
}

// fetch GETs a playback URL and returns the body, failing tb unless 200.
func fetch(tb testing.TB, e *testEnv, u string) string {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		tb.Fatal(err)
	}
	r := e.send(tb, req)
	if r.Status != http.StatusOK {
		tb.Fatalf("GET %s: status %d: %s", u, r.Status, r.Body)
	}
	return string(r.Body)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
