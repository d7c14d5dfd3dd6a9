package playlist_test

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/hlsgate/hlsgate/playlist"
)

func ExampleRewrite() {
	src := `#EXTM3U
#EXT-X-TARGETDURATION:10
#EXT-X-KEY:METHOD=AES-128,URI="key.bin"
#EXTINF:10,
seg0.ts
#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://key-id",KEYFORMAT="com.apple.streamingkeydelivery"
#EXTINF:10,
https://cdn.example.com/seg1.ts?a=1
#EXT-X-ENDLIST
`
	// The proxy's mapper resolves the URI against the upstream playlist URL
	// and mints a token; here it just shows what it was given.
	opts := playlist.Options{Map: func(ref playlist.Ref) (string, bool) {
		return "/gate/TOKEN/" + ref.Kind.String() + "?u=" + url.QueryEscape(ref.URI), true
	}}
	if err := playlist.Rewrite(os.Stdout, strings.NewReader(src), opts); err != nil {
		fmt.Println(err)
	}
	// Output:
	// #EXTM3U
	// #EXT-X-TARGETDURATION:10
	// #EXT-X-KEY:METHOD=AES-128,URI="/gate/TOKEN/key?u=key.bin"
	// #EXTINF:10,
	// /gate/TOKEN/segment?u=seg0.ts
	// #EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://key-id",KEYFORMAT="com.apple.streamingkeydelivery"
	// #EXTINF:10,
	// /gate/TOKEN/segment?u=https%3A%2F%2Fcdn.example.com%2Fseg1.ts%3Fa%3D1
	// #EXT-X-ENDLIST
}

func ExampleIsPlaylist() {
	fmt.Println(playlist.IsPlaylist("application/vnd.apple.mpegurl; charset=utf-8", nil))
	fmt.Println(playlist.IsPlaylist("application/octet-stream", []byte("#EXTM3U\n#EXT-X-VERSION:3\n")))
	fmt.Println(playlist.IsPlaylist("video/mp2t", []byte{0x47, 0x40, 0x00, 0x10}))
	// Output:
	// true
	// true
	// false
}
