package hlstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Fixture geometry, shared by every kind so tests can reason about it.
const (
	// FixtureDuration is the media length of every VOD fixture.
	FixtureDuration = 5 * time.Second
	// SegmentDuration is the target segment length of every fixture.
	SegmentDuration = time.Second
)

// generateTimeout bounds one ffmpeg fixture run; a run takes well under a
// second, so hitting this means ffmpeg hung.
const generateTimeout = 60 * time.Second

// ErrBadFixture is returned (and reported through tb.Fatal) when ffmpeg made a
// playlist without what its kind promises.
var ErrBadFixture = errors.New("hlstest: generated fixture is not what its kind promises")

// Kind names a VOD fixture layout.
type Kind int

// The VOD fixture kinds. Each is generated into its own folder, named in the
// comment, below the served directory.
const (
	// TSVOD is an MPEG-TS media playlist: ts/index.m3u8 and ts/seg_NNN.ts.
	TSVOD Kind = iota + 1
	// FMP4VOD is an fMP4 media playlist with EXT-X-MAP: fmp4/index.m3u8,
	// fmp4/init.mp4 and fmp4/seg_NNN.m4s.
	FMP4VOD
	// AESVOD is an AES-128 encrypted MPEG-TS playlist whose EXT-X-KEY URI is
	// the relative "keys/aes.key", served by the origin: aes/index.m3u8.
	AESVOD
	// Multivariant is a multivariant playlist mv/master.m3u8 with two video
	// variants (mv/high/, 320x180, and mv/low/, 160x90) that reference an
	// alternate audio rendition (EXT-X-MEDIA TYPE=AUDIO, mv/audio/), so
	// nested relative URIs are exercised.
	Multivariant
	// ByteRangeVOD is a single-file playlist: br/index.m3u8 addresses parts of
	// br/index.ts with EXT-X-BYTERANGE.
	ByteRangeVOD
)

// VODKinds returns every VOD kind, for table-driven tests.
func VODKinds() []Kind {
	return []Kind{TSVOD, FMP4VOD, AESVOD, Multivariant, ByteRangeVOD}
}

// String returns the kind's name, usable as a t.Run name.
func (k Kind) String() string {
	switch k {
	case TSVOD:
		return "ts"
	case FMP4VOD:
		return "fmp4"
	case AESVOD:
		return "aes128"
	case Multivariant:
		return "multivariant"
	case ByteRangeVOD:
		return "byterange"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

// folder is the directory a kind is generated into below the served root;
// the entries in WriteVOD and the Kind docs name the same folders.
func (k Kind) folder() string {
	switch k {
	case AESVOD:
		return "aes"
	case Multivariant:
		return "mv"
	case ByteRangeVOD:
		return "br"
	default:
		return k.String()
	}
}

// VOD is a generated VOD fixture served by its own Origin.
type VOD struct {
	Kind   Kind
	Origin *Origin
	// Entry is the entry playlist's path on the origin, e.g. "/ts/index.m3u8".
	Entry string
	// URL is the entry playlist's absolute URL on the origin.
	URL string
	// Key is the AES-128 key for AESVOD, nil otherwise.
	Key []byte
}

// NewVOD generates a fixture of kind into a fresh tb.TempDir and serves it from
// a new Origin configured by opts.
func NewVOD(tb testing.TB, kind Kind, opts ...OriginOption) *VOD {
	tb.Helper()
	dir := tb.TempDir()
	entry, key := WriteVOD(tb, kind, dir)
	o := NewOrigin(tb, dir, opts...)
	return &VOD{Kind: kind, Origin: o, Entry: "/" + entry, URL: o.URLFor(entry), Key: key}
}

// Common ffmpeg arguments: synthetic sources, and an encoding every player
// here decodes, with a keyframe every second so 1 s segments cut cleanly.
// -threads 1 keeps parallel tests from fighting over the two cores.
func sourceArgs() []string {
	return []string{
		"-f", "lavfi", "-i", "testsrc=size=320x180:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
	}
}

func videoArgs() []string {
	return []string{
		"-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-level", "3.0",
		"-pix_fmt", "yuv420p", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
	}
}

func audioArgs() []string {
	return []string{"-c:a", "aac", "-b:a", "64k", "-ac", "2"}
}

func hlsArgs() []string {
	return []string{"-f", "hls", "-hls_time", "1"}
}

// WriteVOD generates a fixture of kind below dir and returns the entry
// playlist's slash-separated path relative to dir (e.g. "ts/index.m3u8"), and
// the AES-128 key for AESVOD (nil otherwise). It fails tb when ffmpeg fails
// or the playlist lacks what the kind promises.
func WriteVOD(tb testing.TB, kind Kind, dir string) (entry string, key []byte) {
	tb.Helper()
	ff := RequireFFmpeg(tb)
	sub := filepath.Join(dir, kind.folder())
	if err := os.MkdirAll(sub, 0o755); err != nil {
		tb.Fatalf("hlstest: %v", err)
	}
	dur := fmt.Sprintf("%g", FixtureDuration.Seconds())
	common := append(append([]string{"-t", dur, "-threads", "1"}, videoArgs()...), audioArgs()...)
	vod := append(hlsArgs(), "-hls_playlist_type", "vod")

	var args []string
	switch kind {
	case TSVOD:
		entry = "ts/index.m3u8"
		args = concat(sourceArgs(), common, vod,
			[]string{"-hls_segment_filename", filepath.Join(sub, "seg_%03d.ts"), filepath.Join(sub, "index.m3u8")})
	case FMP4VOD:
		entry = "fmp4/index.m3u8"
		args = concat(sourceArgs(), common, vod,
			[]string{"-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
				"-hls_segment_filename", filepath.Join(sub, "seg_%03d.m4s"), filepath.Join(sub, "index.m3u8")})
	case AESVOD:
		entry = "aes/index.m3u8"
		key = make([]byte, 16)
		iv := make([]byte, 16)
		rand.Read(key)
		rand.Read(iv)
		keyDir := filepath.Join(sub, "keys")
		if err := os.MkdirAll(keyDir, 0o755); err != nil {
			tb.Fatalf("hlstest: %v", err)
		}
		keyFile := filepath.Join(keyDir, "aes.key")
		// The key info file lives outside the served tree: it holds a local
		// path and has no business on the origin.
		infoFile := filepath.Join(tb.TempDir(), "keyinfo")
		info := "keys/aes.key\n" + keyFile + "\n" + hex.EncodeToString(iv) + "\n"
		if err := os.WriteFile(keyFile, key, 0o644); err != nil {
			tb.Fatalf("hlstest: %v", err)
		}
		if err := os.WriteFile(infoFile, []byte(info), 0o644); err != nil {
			tb.Fatalf("hlstest: %v", err)
		}
		args = concat(sourceArgs(), common, vod,
			[]string{"-hls_key_info_file", infoFile,
				"-hls_segment_filename", filepath.Join(sub, "seg_%03d.ts"), filepath.Join(sub, "index.m3u8")})
	case Multivariant:
		entry = "mv/master.m3u8"
		args = concat(sourceArgs(),
			[]string{
				"-filter_complex", "[0:v]split=2[hi][lo0];[lo0]scale=160:90[lo]",
				"-map", "[hi]", "-map", "[lo]", "-map", "1:a",
			},
			common,
			[]string{"-b:v:0", "300k", "-b:v:1", "100k"},
			vod,
			[]string{
				"-master_pl_name", "master.m3u8",
				"-var_stream_map", "v:0,agroup:aud,name:high v:1,agroup:aud,name:low a:0,agroup:aud,name:audio,default:yes",
				"-hls_segment_filename", filepath.Join(sub, "%v", "seg_%03d.ts"),
				filepath.Join(sub, "%v", "index.m3u8"),
			})
	case ByteRangeVOD:
		entry = "br/index.m3u8"
		args = concat(sourceArgs(), common, vod,
			[]string{"-hls_flags", "single_file", filepath.Join(sub, "index.m3u8")})
	default:
		tb.Fatalf("hlstest: unknown fixture kind %v", kind)
	}

	ctx, cancel := context.WithTimeout(context.Background(), generateTimeout)
	defer cancel()
	if out, err := runFFmpeg(ctx, ff, args...); err != nil {
		tb.Fatalf("hlstest: generate %v fixture: %v\n%s", kind, err, out)
	}
	if err := checkVOD(kind, dir, entry); err != nil {
		tb.Fatalf("%v", err)
	}
	return entry, key
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// runFFmpeg runs ffmpeg to completion and returns its stderr.
func runFFmpeg(ctx context.Context, ff string, args ...string) (string, error) {
	full := append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y"}, args...)
	cmd := exec.CommandContext(ctx, ff, full...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	setProcAttrs(cmd)
	cmd.WaitDelay = 3 * time.Second
	err := cmd.Run()
	if err != nil {
		return stderr.String(), fmt.Errorf("ffmpeg: %w", err)
	}
	return stderr.String(), nil
}

// checkVOD verifies the generated playlists carry the tags their kind
// promises and that every URI they hold names a file that exists.
func checkVOD(kind Kind, dir, entry string) error {
	var want []string
	switch kind {
	case TSVOD:
		want = []string{"#EXTINF:", "#EXT-X-ENDLIST", ".ts"}
	case FMP4VOD:
		want = []string{"#EXT-X-MAP:URI=", ".m4s", "#EXT-X-ENDLIST"}
	case AESVOD:
		want = []string{"#EXT-X-KEY:METHOD=AES-128,URI=\"keys/aes.key\"", "#EXT-X-ENDLIST"}
	case Multivariant:
		want = []string{"#EXT-X-MEDIA:TYPE=AUDIO", "GROUP-ID=", "#EXT-X-STREAM-INF:", "AUDIO=", "high/index.m3u8", "low/index.m3u8"}
	case ByteRangeVOD:
		want = []string{"#EXT-X-BYTERANGE:", "#EXT-X-ENDLIST"}
	}
	text, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(entry)))
	if err != nil {
		return fmt.Errorf("%w: %v: %v", ErrBadFixture, kind, err)
	}
	for _, w := range want {
		if !bytes.Contains(text, []byte(w)) {
			return fmt.Errorf("%w: %v: %s lacks %q:\n%s", ErrBadFixture, kind, entry, w, text)
		}
	}
	if kind == Multivariant && bytes.Count(text, []byte("#EXT-X-STREAM-INF:")) != 2 {
		return fmt.Errorf("%w: %v: want 2 variants:\n%s", ErrBadFixture, kind, text)
	}
	return checkURIs(dir, entry, 0)
}

// checkURIs walks a playlist's URIs (URI lines and URI="..." attributes),
// requires each to exist below dir, and recurses into child playlists.
func checkURIs(dir, playlist string, depth int) error {
	if depth > 2 {
		return fmt.Errorf("%w: playlists nested too deep at %s", ErrBadFixture, playlist)
	}
	text, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(playlist)))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadFixture, err)
	}
	segments := 0
	for _, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		var uris []string
		switch {
		case line == "":
			continue
		case !strings.HasPrefix(line, "#"):
			uris = append(uris, line)
		default:
			if i := strings.Index(line, `URI="`); i >= 0 {
				rest := line[i+len(`URI="`):]
				if j := strings.IndexByte(rest, '"'); j >= 0 {
					uris = append(uris, rest[:j])
				}
			}
		}
		for _, u := range uris {
			p := path.Join(path.Dir(playlist), u)
			if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p))); err != nil {
				return fmt.Errorf("%w: %s references %q: %v", ErrBadFixture, playlist, u, err)
			}
			if strings.HasSuffix(u, ".m3u8") {
				if err := checkURIs(dir, p, depth+1); err != nil {
					return err
				}
			} else if !strings.HasPrefix(line, "#") {
				segments++
			}
		}
	}
	if segments == 0 && !bytes.Contains(text, []byte("#EXT-X-STREAM-INF")) {
		return fmt.Errorf("%w: %s has no segments:\n%s", ErrBadFixture, playlist, text)
	}
	return nil
}
