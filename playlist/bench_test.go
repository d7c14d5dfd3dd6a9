package playlist

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

func mediaPlaylist(segments int) []byte {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n")
	b.WriteString("#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example.com/key?id=1\",IV=0x1\n")
	for i := range segments {
		if i%10 == 0 {
			fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:%02d:%02d.000Z\n", i/10%60, i%60)
		}
		fmt.Fprintf(&b, "#EXTINF:6.006,\nsegment_1080p_%05d.m4s?session=abcdef\n", i)
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	return []byte(b.String())
}

func multivariantPlaylist(variants int) []byte {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	b.WriteString("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",LANGUAGE=\"en\",NAME=\"English\",DEFAULT=YES,AUTOSELECT=YES,URI=\"audio/en/index.m3u8\"\n")
	b.WriteString("#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",LANGUAGE=\"en\",NAME=\"English\",URI=\"subs/en/index.m3u8\"\n")
	for i := range variants {
		bw := 200000 * (i + 1)
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,CODECS=\"avc1.640028,mp4a.40.2\",RESOLUTION=1920x1080,FRAME-RATE=29.970,AUDIO=\"aac\",SUBTITLES=\"subs\"\n", bw, bw*9/10)
		fmt.Fprintf(&b, "video/%d/index.m3u8\n", bw)
		fmt.Fprintf(&b, "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=%d,CODECS=\"avc1.640028\",RESOLUTION=1920x1080,URI=\"video/%d/iframes.m3u8\"\n", bw/10, bw)
	}
	return []byte(b.String())
}

func benchmarkRewrite(b *testing.B, src []byte) {
	// A mapper as cheap as possible, so the figures are the rewriter's own;
	// the proxy's mapper (resolve + sign) adds its own cost per URI.
	const mapped = "/api/hls/eyJhbGciOiJIUzI1NiJ9.payload.signature/u"
	maps := map[string]MapFunc{
		"map":  func(Ref) (string, bool) { return mapped, true },
		"copy": nil,
	}
	for _, name := range []string{"map", "copy"} {
		b.Run(name, func(b *testing.B) {
			opts := Options{Map: maps[name]}
			b.ReportAllocs()
			b.SetBytes(int64(len(src)))
			r := bytes.NewReader(src)
			for b.Loop() {
				r.Reset(src)
				if err := Rewrite(io.Discard, r, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRewriteMedia5000(b *testing.B) {
	benchmarkRewrite(b, mediaPlaylist(5000))
}

func BenchmarkRewriteMultivariant20(b *testing.B) {
	benchmarkRewrite(b, multivariantPlaylist(20))
}
