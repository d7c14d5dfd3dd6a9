package playlist

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// testMap is the golden files' mapper: deterministic, and it shows the kind.
func testMap(ref Ref) (string, bool) {
	return "/p/" + ref.Kind.String() + "/" + ref.URI, true
}

// testQuery is the request query the golden files are rewritten with.
var testQuery = url.Values{"token": {"abc123"}}

// rewriteString runs Rewrite on in and returns the output.
func rewriteString(tb testing.TB, in string, opts Options) (string, error) {
	tb.Helper()
	var out bytes.Buffer
	err := Rewrite(&out, strings.NewReader(in), opts)
	return out.String(), err
}

// diffLines reports the first line where got and want differ.
func diffLines(tb testing.TB, got, want []byte) {
	tb.Helper()
	g := bytes.SplitAfter(got, []byte("\n"))
	w := bytes.SplitAfter(want, []byte("\n"))
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl []byte
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if !bytes.Equal(gl, wl) {
			tb.Errorf("line %d:\n got %q\nwant %q", i+1, gl, wl)
			return
		}
	}
	tb.Errorf("outputs differ but no line does (got %d bytes, want %d)", len(got), len(want))
}

func goldenInputs(tb testing.TB) []string {
	tb.Helper()
	inputs, err := filepath.Glob("testdata/*.m3u8")
	if err != nil {
		tb.Fatal(err)
	}
	if len(inputs) == 0 {
		tb.Fatal("no testdata/*.m3u8 files")
	}
	return inputs
}

func TestRewriteGolden(t *testing.T) {
	seen := make(map[Kind]bool)
	for _, in := range goldenInputs(t) {
		name := strings.TrimSuffix(filepath.Base(in), ".m3u8")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			opts := Options{
				Map: func(ref Ref) (string, bool) {
					seen[ref.Kind] = true
					return testMap(ref)
				},
				Query: testQuery,
			}
			var out bytes.Buffer
			if err := Rewrite(&out, bytes.NewReader(src), opts); err != nil {
				t.Fatalf("Rewrite: %v", err)
			}
			golden := strings.TrimSuffix(in, ".m3u8") + ".golden"
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				diffLines(t, out.Bytes(), want)
			}
		})
	}
	// The golden files together must exercise every place a URI can stand.
	for k := KindSegment; k <= KindAssetList; k++ {
		if !seen[k] {
			t.Errorf("no golden file has a URI of kind %s", k)
		}
	}
}

// A mapper that declines everything, and a nil mapper, must give back the
// input byte for byte: only URI bytes may ever change.
func TestRewriteDeclinedIsIdentity(t *testing.T) {
	decline := func(Ref) (string, bool) { return "/never", false }
	for _, in := range goldenInputs(t) {
		src, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []struct {
			name string
			fn   MapFunc
		}{{"decline", decline}, {"nil", nil}} {
			t.Run(filepath.Base(in)+"/"+m.name, func(t *testing.T) {
				var out bytes.Buffer
				if err := Rewrite(&out, bytes.NewReader(src), Options{Map: m.fn, Query: testQuery}); err != nil {
					t.Fatalf("Rewrite: %v", err)
				}
				if !bytes.Equal(out.Bytes(), src) {
					diffLines(t, out.Bytes(), src)
				}
			})
		}
	}
}

func TestRewriteCalls(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		query url.Values
		want  []Ref
	}{
		{
			name: "segments in order, PART-INF has no URI",
			in:   "#EXTM3U\n#EXT-X-PART-INF:PART-TARGET=1\n#EXTINF:1,\na.ts\n#EXT-X-PART:DURATION=1,URI=\"p.mp4\"\n#EXTINF:1,\nb.ts\n",
			want: []Ref{{KindSegment, "a.ts"}, {KindPart, "p.mp4"}, {KindSegment, "b.ts"}},
		},
		{
			name: "variant state ends at its URI line",
			in:   "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n#EXT-X-FOO\nv.m3u8\nstray.ts\n",
			want: []Ref{{KindVariant, "v.m3u8"}, {KindSegment, "stray.ts"}},
		},
		{
			name: "not by extension",
			in:   "#EXTM3U\n#EXTINF:1,\nlooks-like-a-playlist.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlooks-like-a-segment.ts\n",
			want: []Ref{{KindSegment, "looks-like-a-playlist.m3u8"}, {KindVariant, "looks-like-a-segment.ts"}},
		},
		{
			name: "other schemes are not offered",
			in: "#EXTM3U\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://k\"\n#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"data:,x\"\n" +
				"#EXT-X-KEY:METHOD=NONE\n#EXTINF:1,\nurn:x:y\n#EXTINF:1,\nHtTp://h/a\n#EXTINF:1,\nhttps://h/b\n",
			want: []Ref{{KindSegment, "HtTp://h/a"}, {KindSegment, "https://h/b"}},
		},
		{
			name:  "define substitution",
			in:    "#EXTM3U\n#EXT-X-DEFINE:NAME=\"a\",VALUE=\"x\"\n#EXT-X-DEFINE:QUERYPARAM=\"q\"\n#EXT-X-DEFINE:IMPORT=\"i\"\n#EXTINF:1,\n{$a}/{$q}.ts\n#EXTINF:1,\n{$i}.ts\n",
			query: url.Values{"q": {"from-query"}},
			want:  []Ref{{KindSegment, "x/from-query.ts"}},
		},
		{
			name: "a later define replaces an earlier one",
			in:   "#EXTM3U\n#EXT-X-DEFINE:NAME=\"a\",VALUE=\"1\"\n#EXTINF:1,\n{$a}.ts\n#EXT-X-DEFINE:NAME=\"a\",VALUE=\"2\"\n#EXTINF:1,\n{$a}.ts\n",
			want: []Ref{{KindSegment, "1.ts"}, {KindSegment, "2.ts"}},
		},
		{
			name: "daterange: only interstitial attributes",
			in:   "#EXTM3U\n#EXT-X-DATERANGE:ID=\"1\",URI=\"no\",X-ASSET-LIST=\"l.json\",X-ASSET-URI=\"a.m3u8\"\n",
			want: []Ref{{KindAssetList, "l.json"}, {KindAsset, "a.m3u8"}},
		},
		{
			name: "steering: only SERVER-URI",
			in:   "#EXTM3U\n#EXT-X-CONTENT-STEERING:URI=\"no\",SERVER-URI=\"s.json\"\n",
			want: []Ref{{KindSteering, "s.json"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Ref
			opts := Options{Query: tt.query, Map: func(ref Ref) (string, bool) {
				got = append(got, ref)
				return "", false
			}}
			out, err := rewriteString(t, tt.in, opts)
			if err != nil {
				t.Fatalf("Rewrite: %v", err)
			}
			if out != tt.in {
				t.Errorf("declining mapper changed the output:\n%q", out)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Map calls\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

// Lines longer than bufio.Scanner's 64 KiB cap, and than the read buffer.
func TestRewriteLongLines(t *testing.T) {
	long := strings.Repeat("a", 100<<10)
	in := "#EXTM3U\n" +
		"# " + long + "\n" +
		"#EXT-X-KEY:METHOD=AES-128,URI=\"" + long + ".key\",IV=0x1\r\n" +
		"#EXTINF:10,\n" +
		long + ".ts?" + long + "\n" +
		"#EXTINF:10,\nshort.ts"
	want := "#EXTM3U\n" +
		"# " + long + "\n" +
		"#EXT-X-KEY:METHOD=AES-128,URI=\"/p/key/" + long + ".key\",IV=0x1\r\n" +
		"#EXTINF:10,\n" +
		"/p/segment/" + long + ".ts?" + long + "\n" +
		"#EXTINF:10,\n/p/segment/short.ts"
	got, err := rewriteString(t, in, Options{Map: testMap})
	if err != nil {
		t.Fatalf("Rewrite: %v", err)
	}
	if got != want {
		diffLines(t, []byte(got), []byte(want))
	}
}

func TestRewriteErrors(t *testing.T) {
	mapTo := func(uri string) MapFunc {
		return func(Ref) (string, bool) { return uri, true }
	}
	tests := []struct {
		name string
		in   string
		opts Options
		want error
	}{
		{name: "empty", in: "", want: ErrNotPlaylist},
		{name: "blank first line", in: "\n#EXTM3U\n", want: ErrNotPlaylist},
		{name: "text", in: "hello\n", want: ErrNotPlaylist},
		{name: "html", in: "<html>#EXTM3U</html>", want: ErrNotPlaylist},
		{name: "header glued to text", in: "#EXTM3Ux\n", want: ErrNotPlaylist},
		{name: "indented header", in: " #EXTM3U\n", want: ErrNotPlaylist},
		{name: "header on second line", in: "#EXT-X-VERSION:3\n#EXTM3U\n", want: ErrNotPlaylist},
		{name: "two BOMs", in: "\xef\xbb\xbf\xef\xbb\xbf#EXTM3U\n", want: ErrNotPlaylist},
		{name: "lower-case header", in: "#extm3u\n", want: ErrNotPlaylist},

		{name: "CR-only line ends", in: "#EXTM3U\r#EXTINF:1,\rseg.ts\r", want: ErrMalformed},
		{name: "bare CR in a comment", in: "#EXTM3U\n# note\rhttp://origin/seg.ts\n", want: ErrMalformed},
		{name: "bare CR in a tag", in: "#EXTM3U\n#EXT-X-KEY:METHOD=NONE\rhttp://origin/seg.ts\n", want: ErrMalformed},
		{name: "unterminated quote", in: "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k.bin\n", want: ErrMalformed},
		{name: "bytes after quote", in: "#EXTM3U\n#EXT-X-MAP:URI=\"a\"b\n", want: ErrMalformed},
		{name: "attribute without =", in: "#EXTM3U\n#EXT-X-PART:DURATION=1,URI\n", want: ErrMalformed},
		{name: "malformed define", in: "#EXTM3U\n#EXT-X-DEFINE:NAME=\"a\n", want: ErrMalformed},

		{name: "limit", in: "#EXTM3U\n#EXTINF:1,\nseg.ts\n", opts: Options{MaxSize: 10}, want: ErrTooLarge},
		{name: "limit inside first line", in: "#EXTM3U\n", opts: Options{MaxSize: 3}, want: ErrTooLarge},

		{name: "map: quote in attribute", in: "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n", opts: Options{Map: mapTo(`a"b`)}, want: ErrBadMapping},
		{name: "map: LF in attribute", in: "#EXTM3U\n#EXT-X-MAP:URI=\"i\"\n", opts: Options{Map: mapTo("a\nb")}, want: ErrBadMapping},
		{name: "map: comma in unquoted attribute", in: "#EXTM3U\n#EXT-X-MAP:URI=i\n", opts: Options{Map: mapTo("a,b")}, want: ErrBadMapping},
		{name: "map: space in unquoted attribute", in: "#EXTM3U\n#EXT-X-MAP:URI=i\n", opts: Options{Map: mapTo("a b")}, want: ErrBadMapping},
		{name: "map: CR on URI line", in: "#EXTM3U\n#EXTINF:1,\ns.ts\n", opts: Options{Map: mapTo("a\rb")}, want: ErrBadMapping},
		{name: "map: LF on URI line", in: "#EXTM3U\n#EXTINF:1,\ns.ts\n", opts: Options{Map: mapTo("a\n#EXT-X-ENDLIST")}, want: ErrBadMapping},
		{name: "map: quote on URI line", in: "#EXTM3U\n#EXTINF:1,\ns.ts\n", opts: Options{Map: mapTo(`a"`)}, want: ErrBadMapping},
		{name: "map: # on URI line", in: "#EXTM3U\n#EXTINF:1,\ns.ts\n", opts: Options{Map: mapTo("#EXT-X-ENDLIST")}, want: ErrBadMapping},
		{name: "map: empty URI line", in: "#EXTM3U\n#EXTINF:1,\ns.ts\n", opts: Options{Map: mapTo("")}, want: ErrBadMapping},
		{name: "map: space-led URI line", in: "#EXTM3U\n#EXTINF:1,\ns.ts\n", opts: Options{Map: mapTo(" s.ts")}, want: ErrBadMapping},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rewriteString(t, tt.in, tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Rewrite error = %v, want %v", err, tt.want)
			}
		})
	}
}

// The error text must not carry the mapped URI: it holds a token, and errors
// end up in logs.
func TestRewriteErrorHidesMappedURI(t *testing.T) {
	const secret = "tok-SECRET"
	_, err := rewriteString(t, "#EXTM3U\n#EXTINF:1,\ns.ts\n", Options{Map: func(Ref) (string, bool) {
		return "/" + secret + "\n", true
	}})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("error = %v, want one without the mapped URI", err)
	}
}

func TestRewriteMappedValuesAllowed(t *testing.T) {
	// Commas and spaces are fine inside a quoted value and on a URI line.
	in := "#EXTM3U\n#EXT-X-MAP:URI=\"i\"\n#EXTINF:1,\ns.ts\n"
	got, err := rewriteString(t, in, Options{Map: func(Ref) (string, bool) { return "a,b c=d", true }})
	if err != nil {
		t.Fatalf("Rewrite: %v", err)
	}
	if want := "#EXTM3U\n#EXT-X-MAP:URI=\"a,b c=d\"\n#EXTINF:1,\na,b c=d\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRewriteSizeLimit(t *testing.T) {
	in := "#EXTM3U\n#EXTINF:1,\nseg.ts\n"
	size := int64(len(in))
	tests := []struct {
		name    string
		max     int64
		wantErr bool
	}{
		{"exactly the limit", size, false},
		{"one byte over", size - 1, true},
		{"far over", 8, true},
		{"zero means default", 0, false},
		{"negative means default", -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rewriteString(t, in, Options{MaxSize: tt.max})
			if tt.wantErr {
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("error = %v, want ErrTooLarge", err)
				}
				return
			}
			if err != nil || got != in {
				t.Fatalf("got %q, %v; want the input back", got, err)
			}
		})
	}

	t.Run("default limit", func(t *testing.T) {
		r := io.MultiReader(strings.NewReader("#EXTM3U\n"), &endless{})
		err := Rewrite(io.Discard, r, Options{})
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("error = %v, want ErrTooLarge", err)
		}
	})

	// An endless source must be read no further than the limit (plus the one
	// byte that tells "exactly the limit" from "more").
	for _, body := range []string{"#EXTM3U\n#", "#EXTM3U\nseg.ts\n"} {
		t.Run("endless "+fmt.Sprintf("%q", body), func(t *testing.T) {
			const limit = 100 << 10
			src := &endless{pattern: body}
			err := Rewrite(io.Discard, src, Options{MaxSize: limit})
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error = %v, want ErrTooLarge", err)
			}
			if src.n > limit+1 {
				t.Errorf("read %d bytes, limit %d", src.n, limit)
			}
		})
	}
}

// endless yields pattern (or "a") forever and counts the bytes read.
type endless struct {
	pattern string
	off     int
	n       int64
}

func (e *endless) Read(p []byte) (int, error) {
	pat := e.pattern
	if pat == "" {
		pat = "a"
	}
	for i := range p {
		p[i] = pat[e.off%len(pat)]
		e.off++
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestRewriteIOErrors(t *testing.T) {
	errRead := errors.New("read failed")
	r := io.MultiReader(strings.NewReader("#EXTM3U\n"), &failReader{err: errRead})
	if err := Rewrite(io.Discard, r, Options{}); !errors.Is(err, errRead) {
		t.Errorf("read: error = %v, want %v", err, errRead)
	}

	errWrite := errors.New("write failed")
	big := "#EXTM3U\n" + strings.Repeat("#EXTINF:1,\nseg.ts\n", 10000)
	w := &failWriter{err: errWrite}
	if err := Rewrite(w, strings.NewReader(big), Options{Map: testMap}); !errors.Is(err, errWrite) {
		t.Errorf("write: error = %v, want %v", err, errWrite)
	}
	if err := Rewrite(w, strings.NewReader("#EXTM3U\n"), Options{}); !errors.Is(err, errWrite) {
		t.Errorf("flush: error = %v, want %v", err, errWrite)
	}
}

type failReader struct{ err error }

func (f *failReader) Read([]byte) (int, error) { return 0, f.err }

type failWriter struct{ err error }

func (f *failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestMappable(t *testing.T) {
	tests := []struct {
		uri  string
		want bool
	}{
		{"seg.ts", true},
		{"", true},
		{"../a/b.ts", true},
		{"/abs.ts", true},
		{"//host/p.ts", true},
		{"?only=query", true},
		{"#frag", true},
		{"./a:b.ts", true},
		{"1http://x", true}, // a scheme cannot start with a digit
		{"http://x/a", true},
		{"HTTPS://x/a", true},
		{"http:relative", true},
		{"skd://key", false},
		{"data:,x", false},
		{"urn:uuid:1", false},
		{"ftp://x/a", false},
		{"a:b.ts", false}, // RFC 3986: a scheme, as for a player
		{"git+ssh://x", false},
		{"httpx://x", false},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			if got := mappable([]byte(tt.uri)); got != tt.want {
				t.Errorf("mappable(%q) = %v, want %v", tt.uri, got, tt.want)
			}
		})
	}
}

func TestKind(t *testing.T) {
	playlists := map[Kind]bool{KindVariant: true, KindMedia: true, KindIFrame: true, KindImage: true, KindRenditionReport: true}
	names := make(map[string]bool)
	for k := KindSegment; k <= KindAssetList; k++ {
		t.Run(k.String(), func(t *testing.T) {
			if IsPlaylistKind(k) != playlists[k] {
				t.Errorf("IsPlaylistKind(%s) = %v", k, !playlists[k])
			}
			if names[k.String()] || strings.HasPrefix(k.String(), "kind(") {
				t.Errorf("name %q is a duplicate or missing", k.String())
			}
			names[k.String()] = true
		})
	}
	if got := Kind(0).String(); got != "kind(0)" {
		t.Errorf("Kind(0).String() = %q", got)
	}
	if IsPlaylistKind(0) {
		t.Error("IsPlaylistKind(0) = true")
	}
}
