// Package playlist rewrites HLS playlists (M3U8) as a stream: every URI a
// playlist carries is passed to the caller's MapFunc and replaced with what it
// returns, and every other byte is copied as it was.
//
// The package owns finding URIs: URI lines (a segment or a variant, decided by
// the preceding tags, never by file extension), the URI-valued attributes of
// the tags that carry one (KEY, SESSION-KEY, MAP, MEDIA, I-FRAME-STREAM-INF,
// IMAGE-STREAM-INF, PART, PRELOAD-HINT, RENDITION-REPORT, SESSION-DATA,
// CONTENT-STEERING, DATERANGE interstitials) and EXT-X-DEFINE substitution.
//
// It must not resolve URIs against a base, sign, fetch or log anything: the
// MapFunc, supplied by the proxy, does that. It reads line by line with a size
// limit and keeps no parse tree, so memory stays bounded by the longest line.
// It imports only the standard library.
package playlist

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// DefaultMaxSize is the size limit Rewrite applies when Options.MaxSize is 0.
// Real playlists stay far below it; a 5,000-segment VOD playlist is ~400 KiB.
const DefaultMaxSize = 8 << 20

// Errors returned by Rewrite, always wrapped with detail; test with errors.Is.
var (
	// ErrTooLarge means the source held more than Options.MaxSize bytes.
	ErrTooLarge = errors.New("playlist: larger than the size limit")
	// ErrNotPlaylist means the first line is not #EXTM3U (after an optional UTF-8 BOM).
	ErrNotPlaylist = errors.New("playlist: not an M3U8 playlist")
	// ErrMalformed means a line could not be parsed well enough to be sure where
	// its URIs are (an attribute list with an unterminated quote, a bare CR that a
	// player would take for a line break). Rewrite fails rather than let a URI it
	// did not see reach the player unrewritten.
	ErrMalformed = errors.New("playlist: malformed")
	// ErrBadMapping means MapFunc returned a URI that cannot be written without
	// corrupting the playlist: one holding '"', CR or LF; for a URI line one that
	// is empty, starts with '#' or with or ends in white space; for an unquoted
	// attribute value one holding ',' or white space.
	ErrBadMapping = errors.New("playlist: mapped URI cannot be written")
)

// Ref is one URI found in a playlist.
type Ref struct {
	// Kind says where the URI stood.
	Kind Kind
	// URI is the reference as written, after EXT-X-DEFINE substitution, not
	// resolved against any base. It is a relative reference or an http(s) URI.
	URI string
}

// MapFunc returns the URI to write in place of ref.URI, or ok=false to leave
// the original bytes untouched. It is called once per URI, in playlist order,
// and must be deterministic for a given ref: LL-HLS players match a
// PRELOAD-HINT URI against the URI of a later EXT-X-PART.
type MapFunc func(ref Ref) (uri string, ok bool)

// Options configures Rewrite.
type Options struct {
	// Map maps each URI. If nil, nothing is rewritten and Rewrite only
	// copies (and checks) the playlist.
	Map MapFunc
	// MaxSize is the most bytes read from the source; 0 (or less) means
	// DefaultMaxSize. To tell a playlist of exactly MaxSize bytes from a larger
	// one, Rewrite reads one byte more before returning ErrTooLarge.
	MaxSize int64
	// Query is the query of the URL the playlist was requested with; it
	// supplies the values of EXT-X-DEFINE:QUERYPARAM variables. Nil means none.
	Query url.Values
}

// Buffer sizes. Most rewrites are small live and multivariant playlists,
// fetched again on every reload, where allocating and zeroing the buffers is
// a large part of the cost; larger buffers did not speed up a 5,000-segment
// playlist measurably. Lines longer than readBufSize are gathered in
// rewriter.long.
const (
	readBufSize  = 4 << 10
	writeBufSize = 4 << 10
)

// Rewrite copies the playlist from r to w, replacing every URI for which
// opts.Map returns ok. Everything else, including line endings (LF or CRLF
// per line), a missing final newline, a BOM, blank lines, comments, unknown
// tags, attribute order, quoting and white space, is copied byte for byte.
//
// URIs with a scheme other than http or https (skd:, data:, urn:, ...) are
// never passed to Map, nor are URIs with an EXT-X-DEFINE reference that
// cannot be resolved here (IMPORT variables live in the parent playlist).
//
// Output is buffered and flushed when the whole input has been processed. On
// error part of the output may already have been written to w; callers must
// treat it as garbage (buffer it, or abort the response).
func Rewrite(w io.Writer, r io.Reader, opts Options) error {
	limit := opts.MaxSize
	if limit <= 0 {
		limit = DefaultMaxSize
	}
	rw := &rewriter{opts: opts, lr: limitReader{r: r, n: limit}}
	rw.br = bufio.NewReaderSize(&rw.lr, readBufSize)
	rw.bw = bufio.NewWriterSize(w, writeBufSize)
	if err := rw.run(); err != nil {
		if errors.Is(err, ErrTooLarge) {
			return fmt.Errorf("%w: limit is %d bytes", ErrTooLarge, limit)
		}
		return err
	}
	if err := rw.bw.Flush(); err != nil {
		return fmt.Errorf("playlist: write: %w", err)
	}
	return nil
}

// rewriter holds the state of one Rewrite call. The only state carried from
// line to line is whether a URI line is a variant, and the EXT-X-DEFINE
// variables.
type rewriter struct {
	opts  Options
	lr    limitReader
	br    *bufio.Reader
	bw    *bufio.Writer
	long  []byte // a line longer than br's buffer, gathered across reads
	subst []byte // scratch for EXT-X-DEFINE substitution
	edits []edit // replacements within the current tag line
	vars  map[string]string
	line  int // number of the current line, from 1

	// variantNext is set by EXT-X-STREAM-INF: the next URI line names a
	// variant playlist, whatever tags stand between.
	variantNext bool
}

// edit replaces line[start:end] with uri.
type edit struct {
	start, end int
	kind       Kind
	quoted     bool
	keep       bool // Map declined: the original bytes stay
	uri        string
}

func (rw *rewriter) run() error {
	for {
		line, err := rw.readLine()
		if err != nil && err != io.EOF {
			if errors.Is(err, ErrTooLarge) {
				return err
			}
			return fmt.Errorf("playlist: read: %w", err)
		}
		if len(line) > 0 {
			rw.line++
			if perr := rw.process(line); perr != nil {
				return perr
			}
		}
		if err == io.EOF {
			break
		}
	}
	if rw.line == 0 {
		return fmt.Errorf("%w: empty input", ErrNotPlaylist)
	}
	return nil
}

// readLine returns the next line including its terminator. The slice is only
// valid until the next call: in the common case it points into br's buffer,
// so unchanged lines are copied to the output without allocating.
func (rw *rewriter) readLine() ([]byte, error) {
	line, err := rw.br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return line, err
	}
	// No line length cap below MaxSize: the limit reader bounds this loop.
	rw.long = append(rw.long[:0], line...)
	for {
		line, err = rw.br.ReadSlice('\n')
		rw.long = append(rw.long, line...)
		if err != bufio.ErrBufferFull {
			return rw.long, err
		}
	}
}

// bom is the UTF-8 byte order mark, tolerated before #EXTM3U.
const bom = "\xef\xbb\xbf"

func (rw *rewriter) process(line []byte) error {
	n := contentLen(line)
	// A CR not part of the line terminator: players such as hls.js split lines
	// on a bare CR, so they would see a line this parser does not.
	if bytes.IndexByte(line[:n], '\r') >= 0 {
		return rw.malformed(errors.New("carriage return inside a line"))
	}
	if rw.line == 1 {
		if !isHeader(bytes.TrimPrefix(line[:n], []byte(bom))) {
			return fmt.Errorf("%w: first line is not #EXTM3U", ErrNotPlaylist)
		}
		return rw.write(line)
	}

	start, end := 0, n
	for start < end && isSpace(line[start]) {
		start++
	}
	for end > start && isSpace(line[end-1]) {
		end--
	}
	switch {
	case start == end:
		return rw.write(line) // blank line
	case line[start] == '#':
		return rw.tag(line, start, end)
	default:
		return rw.uriLine(line, start, end)
	}
}

// contentLen returns the length of line without its terminator: LF, CRLF, or
// nothing on a last line; extra CRs before the LF belong to the terminator.
func contentLen(line []byte) int {
	n := len(line)
	if n > 0 && line[n-1] == '\n' {
		n--
	}
	for n > 0 && line[n-1] == '\r' {
		n--
	}
	return n
}

// isHeader reports whether a first line (without BOM and terminator) is the
// EXTM3U tag. Text after a space is tolerated (IPTV-style "#EXTM3U x-tvg=...").
func isHeader(b []byte) bool {
	const tag = "#EXTM3U"
	return bytes.HasPrefix(b, []byte(tag)) && (len(b) == len(tag) || isSpace(b[len(tag)]))
}

// tag handles a line starting with '#' (tag or comment); t = line[start:end].
func (rw *rewriter) tag(line []byte, start, end int) error {
	t := line[start:end]
	name, list, listOff := t[1:], []byte(nil), 0
	if i := bytes.IndexByte(t, ':'); i >= 0 {
		name, list, listOff = t[1:i], t[i+1:], start+i+1
	}
	// Exact names: EXT-X-PART must not match EXT-X-PART-INF, which has no URI.
	switch string(name) {
	case "EXT-X-STREAM-INF":
		rw.variantNext = true
	case "EXT-X-DEFINE":
		if err := rw.define(list); err != nil {
			return err
		}
	default:
		if k := uriTagKind(name); k != 0 {
			return rw.attrLine(line, k, list, listOff)
		}
	}
	return rw.write(line)
}

// uriTagKind returns the Kind of the URI a tag carries in its attribute list,
// or 0 for a tag without one.
func uriTagKind(name []byte) Kind {
	switch string(name) {
	case "EXT-X-KEY":
		return KindKey
	case "EXT-X-SESSION-KEY":
		return KindSessionKey
	case "EXT-X-MAP":
		return KindMap
	case "EXT-X-MEDIA":
		return KindMedia
	case "EXT-X-I-FRAME-STREAM-INF":
		return KindIFrame
	case "EXT-X-IMAGE-STREAM-INF":
		return KindImage
	case "EXT-X-PART":
		return KindPart
	case "EXT-X-PRELOAD-HINT":
		return KindPreloadHint
	case "EXT-X-RENDITION-REPORT":
		return KindRenditionReport
	case "EXT-X-SESSION-DATA":
		return KindSessionData
	case "EXT-X-CONTENT-STEERING":
		return KindSteering
	case "EXT-X-DATERANGE":
		return KindAsset
	}
	return 0
}

// attrKind returns the Kind of attribute name in a tag of kind tagKind, or 0
// if that attribute holds no URI.
func attrKind(tagKind Kind, name []byte) Kind {
	switch tagKind {
	case KindSteering:
		if string(name) == "SERVER-URI" {
			return KindSteering
		}
	case KindAsset:
		switch string(name) {
		case "X-ASSET-URI":
			return KindAsset
		case "X-ASSET-LIST":
			return KindAssetList
		}
	default:
		if string(name) == "URI" {
			return tagKind
		}
	}
	return 0
}

// attrLine rewrites the URI attributes of a tag line; list = line[off:...].
// The whole list is checked before Map is called, so a malformed line fails
// without minting anything. A repeated URI attribute is rewritten every time
// it appears, since players differ in which one they use.
func (rw *rewriter) attrLine(line []byte, tagKind Kind, list []byte, off int) error {
	rw.edits = rw.edits[:0]
	s := newAttrScanner(list)
	for s.next() {
		if k := attrKind(tagKind, s.attr.name); k != 0 {
			rw.edits = append(rw.edits, edit{
				start: off + s.attr.start, end: off + s.attr.end,
				kind: k, quoted: s.attr.quoted,
			})
		}
	}
	if s.err != nil {
		return rw.malformed(s.err)
	}

	changed := false
	for i := range rw.edits {
		e := &rw.edits[i]
		uri, ok := rw.mapURI(e.kind, line[e.start:e.end])
		if !ok {
			e.keep = true
			continue
		}
		if err := checkAttrURI(uri, e.quoted); err != nil {
			return rw.badMapping(e.kind, err)
		}
		e.uri, changed = uri, true
	}
	if !changed {
		return rw.write(line)
	}

	// bufio.Writer errors are sticky, so checking the last write is enough.
	last := 0
	for _, e := range rw.edits {
		if e.keep {
			continue
		}
		rw.bw.Write(line[last:e.start])
		rw.bw.WriteString(e.uri)
		last = e.end
	}
	return rw.write(line[last:])
}

// uriLine rewrites a URI line; line[start:end] is the URI without surrounding
// white space, which is kept.
func (rw *rewriter) uriLine(line []byte, start, end int) error {
	kind := KindSegment
	if rw.variantNext {
		kind, rw.variantNext = KindVariant, false
	}
	uri, ok := rw.mapURI(kind, line[start:end])
	if !ok {
		return rw.write(line)
	}
	if err := checkLineURI(uri); err != nil {
		return rw.badMapping(kind, err)
	}
	// bufio.Writer errors are sticky, so checking the last write is enough.
	rw.bw.Write(line[:start])
	rw.bw.WriteString(uri)
	return rw.write(line[end:])
}

// mapURI substitutes variables into raw and calls Map, unless the reference
// cannot be resolved, has a scheme other than http(s), or Map is nil.
func (rw *rewriter) mapURI(kind Kind, raw []byte) (string, bool) {
	if rw.opts.Map == nil {
		return "", false
	}
	resolved, ok := rw.substitute(raw)
	if !ok || !mappable(resolved) {
		return "", false
	}
	return rw.opts.Map(Ref{Kind: kind, URI: string(resolved)})
}

// mappable reports whether u is a relative reference or an http(s) URI. Other
// schemes are not fetched over HTTP by the player (skd: goes to the FairPlay
// key system, data: is inline), and a token injected into them breaks them.
func mappable(u []byte) bool {
	for i, c := range u {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			s := u[:i]
			return bytes.EqualFold(s, []byte("http")) || bytes.EqualFold(s, []byte("https"))
		default:
			return true // no scheme: a relative reference
		}
	}
	return true
}

func checkAttrURI(uri string, quoted bool) error {
	bad := "\"\r\n"
	if !quoted {
		bad = "\"\r\n, \t"
	}
	if i := strings.IndexAny(uri, bad); i >= 0 {
		return fmt.Errorf("holds %q", uri[i])
	}
	return nil
}

func checkLineURI(uri string) error {
	switch {
	case uri == "":
		return errors.New("is empty")
	case uri[0] == '#':
		return errors.New("starts with '#'")
	case isSpace(uri[0]) || isSpace(uri[len(uri)-1]):
		return errors.New("starts or ends with white space")
	}
	if i := strings.IndexAny(uri, "\"\r\n"); i >= 0 {
		return fmt.Errorf("holds %q", uri[i])
	}
	return nil
}

func (rw *rewriter) write(b []byte) error {
	if _, err := rw.bw.Write(b); err != nil {
		return fmt.Errorf("playlist: write: %w", err)
	}
	return nil
}

func (rw *rewriter) malformed(err error) error {
	return fmt.Errorf("%w: line %d: %v", ErrMalformed, rw.line, err)
}

// badMapping never quotes the mapped URI: it carries a token.
func (rw *rewriter) badMapping(kind Kind, err error) error {
	return fmt.Errorf("%w: line %d: %s URI %v", ErrBadMapping, rw.line, kind, err)
}

// limitReader is io.LimitedReader that reports ErrTooLarge instead of a
// silent EOF, so a truncated playlist is never mistaken for a whole one.
type limitReader struct {
	r     io.Reader
	n     int64 // bytes still allowed
	probe [1]byte
}

func (l *limitReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if l.n <= 0 {
		// At the limit: one more byte tells "exactly MaxSize" from "larger".
		n, err := l.r.Read(l.probe[:])
		if n > 0 {
			return 0, ErrTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
