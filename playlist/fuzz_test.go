package playlist

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"testing"
)

// fuzzURITags are the tags whose lines may change, written out here rather
// than taken from uriTagKind so the fuzz test checks the code independently.
var fuzzURITags = map[string]bool{
	"EXT-X-KEY": true, "EXT-X-SESSION-KEY": true, "EXT-X-MAP": true, "EXT-X-MEDIA": true,
	"EXT-X-I-FRAME-STREAM-INF": true, "EXT-X-IMAGE-STREAM-INF": true, "EXT-X-PART": true,
	"EXT-X-PRELOAD-HINT": true, "EXT-X-RENDITION-REPORT": true, "EXT-X-SESSION-DATA": true,
	"EXT-X-CONTENT-STEERING": true, "EXT-X-DATERANGE": true,
}

// mayChange reports whether a line stands where a URI may be: a URI line, or
// a tag line of a URI-carrying tag.
func mayChange(line []byte) bool {
	c := bytes.Trim(line[:contentLen(line)], " \t")
	if len(c) == 0 {
		return false
	}
	if c[0] != '#' {
		return true
	}
	name, _, _ := bytes.Cut(c[1:], []byte(":"))
	return fuzzURITags[string(name)]
}

func FuzzRewrite(f *testing.F) {
	for _, in := range goldenInputs(f) {
		src, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}

	f.Fuzz(func(t *testing.T, in []byte) {
		// A marker per call: unique, a valid relative URI, and never a prefix
		// of another marker.
		var refs []Ref
		var returned []string
		mark := func(ref Ref) (string, bool) {
			u := "m/" + strconv.Itoa(len(returned)) + ".m"
			refs = append(refs, ref)
			returned = append(returned, u)
			return u, true
		}
		query := url.Values{"q": {"v"}, "token": {"t"}}
		var out bytes.Buffer
		err := Rewrite(&out, bytes.NewReader(in), Options{Map: mark, Query: query, MaxSize: 1 << 20})
		if err != nil {
			if !errors.Is(err, ErrNotPlaylist) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}

		// Same lines, same terminators; only URI positions may differ.
		inLines := bytes.SplitAfter(in, []byte("\n"))
		outLines := bytes.SplitAfter(out.Bytes(), []byte("\n"))
		if len(inLines) != len(outLines) {
			t.Fatalf("%d lines in, %d out", len(inLines), len(outLines))
		}
		for i, il := range inLines {
			ol := outLines[i]
			if bytes.Equal(il, ol) {
				continue
			}
			if !mayChange(il) {
				t.Fatalf("line %d is not a URI position but changed:\n in %q\nout %q", i+1, il, ol)
			}
			if !bytes.Equal(il[contentLen(il):], ol[contentLen(ol):]) {
				t.Fatalf("line %d: terminator changed:\n in %q\nout %q", i+1, il, ol)
			}
		}
		for _, u := range returned {
			if !bytes.Contains(out.Bytes(), []byte(u)) {
				t.Fatalf("mapped URI %q missing from the output", u)
			}
		}

		// Declining every URI gives the input back byte for byte.
		var same bytes.Buffer
		decline := func(Ref) (string, bool) { return "", false }
		if err := Rewrite(&same, bytes.NewReader(in), Options{Map: decline, Query: query, MaxSize: 1 << 20}); err != nil {
			t.Fatalf("declining rewrite failed after a mapping one succeeded: %v", err)
		}
		if !bytes.Equal(same.Bytes(), in) {
			t.Fatalf("declining rewrite changed the input:\n in %q\nout %q", in, same.Bytes())
		}

		// Rewriting the output finds exactly the URIs written, where they were
		// written: nothing was placed where a parser would not look for it.
		var again []Ref
		record := func(ref Ref) (string, bool) {
			again = append(again, ref)
			return "", false
		}
		if err := Rewrite(&same, bytes.NewReader(out.Bytes()), Options{Map: record, Query: query}); err != nil {
			t.Fatalf("rewriting the output failed: %v", err)
		}
		want := make([]Ref, len(refs))
		for i, r := range refs {
			want[i] = Ref{Kind: r.Kind, URI: returned[i]}
		}
		if fmt.Sprint(again) != fmt.Sprint(want) {
			t.Fatalf("second pass saw\n%v\nwant\n%v", again, want)
		}
	})
}
