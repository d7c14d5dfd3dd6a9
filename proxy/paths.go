package proxy

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// How a path after /api/hls/{token}/{streamID}/ names an upstream URL:
//
//   - "seg1.ts", "v1/index.m3u8": resolved against the folder of the
//     stream's playlist URL, so relative URIs in playlists keep working
//     as they are;
//   - "~/N/abs/path": path "/abs/path" on allowed origin N (0 is the
//     playlist URL's own origin, 1.. the stream's extra origins), for
//     targets outside the playlist's folder. "~" as a first segment always
//     means this form; a real folder named "~" is reached through it too.
//
// The path never holds "..", "." or empty segments, encoded slashes,
// encoded dots or backslashes: such a request is refused, so a token
// holder reaches nothing but the stream's own origins.
const originMark = "~"

// ErrBadPath is returned for a request path that could escape the stream.
var ErrBadPath = errors.New("proxy: path not allowed")

// Origin returns "scheme://host[:port]" of u, lower-cased, without a
// default port.
func Origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

// Path is the player path of rest (an escaped path, with query, after the
// stream id) under token: /api/hls/{token}/{streamID}/{rest}. It is the one
// place that layout is written.
func Path(token string, streamID int64, rest string) string {
	return "/api/hls/" + token + "/" + strconv.FormatInt(streamID, 10) + "/" + rest
}

// EntryPath is the path after /api/hls/{token}/{streamID}/ that names the
// stream's playlist URL itself: its last path segment.
func EntryPath(streamURL string) string {
	u, err := url.Parse(streamURL)
	if err != nil {
		return ""
	}
	_, entry := splitDir(u.EscapedPath())
	return entry
}

// splitDir splits an escaped URL path into its folder (ending in "/") and
// last segment.
func splitDir(p string) (dir, last string) {
	if p == "" {
		return "/", ""
	}
	i := strings.LastIndexByte(p, '/')
	return p[:i+1], p[i+1:]
}

// checkRest refuses anything in an escaped request path that could step
// outside the stream: ".", ".." or empty segments (a trailing "/" naming a
// folder is fine; "//" would change the host when resolved), a leading "/",
// backslashes, control bytes, and the escapes %2F, %5C, %2E and %00. It runs
// on every request, so it allocates nothing.
func checkRest(rest string) error {
	segStart := 0
	for i := 0; i <= len(rest); i++ {
		if i == len(rest) || rest[i] == '/' {
			seg := rest[segStart:i]
			if seg == "." || seg == ".." || (seg == "" && i != len(rest)) {
				return ErrBadPath
			}
			segStart = i + 1
			continue
		}
		switch c := rest[i]; {
		case c < 0x20 || c == 0x7f || c == '\\':
			return ErrBadPath
		case c == '%' && i+2 < len(rest):
			hi, lo := rest[i+1], rest[i+2]|0x20 // lower-case the second digit
			if hi == '2' && (lo == 'f' || lo == 'e') || hi == '5' && lo == 'c' || hi == '0' && lo == '0' {
				return ErrBadPath
			}
		}
	}
	return nil
}

// upstreamURL maps an escaped request path (after the stream id) and the
// player's raw query to the origin URL to fetch.
func (rs *resolvedStream) upstreamURL(rest, rawQuery string) (*url.URL, error) {
	if err := checkRest(rest); err != nil {
		return nil, err
	}
	origin, path := rs.origins[0], rs.baseDir+rest
	if first, after, _ := strings.Cut(rest, "/"); first == originMark {
		n, tail, ok := strings.Cut(after, "/")
		idx, err := strconv.Atoi(n)
		if !ok || err != nil || idx < 0 || idx >= len(rs.origins) || strconv.Itoa(idx) != n {
			return nil, ErrBadPath
		}
		origin, path = rs.origins[idx], "/"+tail
	}
	if origin == rs.origins[0] && path == rs.url.EscapedPath() {
		// The stream's own playlist keeps its own query (it may hold the
		// origin's credentials), with the player's (LL-HLS _HLS_msn, ...)
		// after it.
		switch {
		case rawQuery == "":
			rawQuery = rs.url.RawQuery
		case rs.url.RawQuery != "":
			rawQuery = rs.url.RawQuery + "&" + rawQuery
		}
	}
	raw := origin + path
	if rawQuery != "" {
		raw += "?" + rawQuery
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, ErrBadPath
	}
	return u, nil
}

// proxyRest is the inverse of upstreamURL: the escaped path (with query)
// after /api/hls/{token}/{streamID}/ that names u, or ok=false when u is
// on no allowed origin.
func (rs *resolvedStream) proxyRest(u *url.URL) (string, bool) {
	idx := rs.originIndex(Origin(u))
	if idx < 0 {
		return "", false
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	var rest string
	if tail, ok := strings.CutPrefix(p, rs.baseDir); ok && idx == 0 && checkRest(tail) == nil && !strings.HasPrefix(tail, originMark+"/") && tail != originMark {
		rest = tail
	} else {
		if checkRest(strings.TrimPrefix(p, "/")) != nil {
			return "", false // dot segments or odd escapes: nothing we would accept back
		}
		rest = originMark + "/" + strconv.Itoa(idx) + p
	}
	if u.RawQuery != "" {
		rest += "?" + u.RawQuery
	}
	return rest, true
}
