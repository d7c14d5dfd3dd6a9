package playlist

import "testing"

func TestIsPlaylist(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		head        string
		want        bool
	}{
		{"apple type", "application/vnd.apple.mpegurl", "", true},
		{"apple type, mixed case and charset", "Application/VND.Apple.MPEGURL; charset=utf-8", "", true},
		{"x-mpegurl", "application/x-mpegURL", "", true},
		{"audio/mpegurl", "audio/mpegurl", "", true},
		{"audio/x-mpegurl with spaces", "  audio/x-mpegurl ;foo=bar", "", true},
		{"type wins over body", "application/vnd.apple.mpegurl", "\x47\x40\x00", true},
		{"body with LF", "application/octet-stream", "#EXTM3U\n#EXT-X-VERSION:3\n", true},
		{"body with CRLF", "text/plain", "#EXTM3U\r\n", true},
		{"body with BOM", "", "\xef\xbb\xbf#EXTM3U\n", true},
		{"body cut after tag", "", "#EXTM3U", true},
		{"body with text after space", "", "#EXTM3U x-tvg-url=\"a\"\n", true},
		{"TS segment", "video/mp2t", "\x47\x40\x00\x10", false},
		{"mp4", "video/mp4", "\x00\x00\x00\x18ftypmp42", false},
		{"extension is not evidence", "application/octet-stream", "not a playlist.m3u8", false},
		{"empty", "", "", false},
		{"short body", "", "#EXT", false},
		{"glued tag", "", "#EXTM3Ux", false},
		{"leading space", "", " #EXTM3U\n", false},
		{"lower case body", "", "#extm3u\n", false},
		{"type prefix only", "application/vnd.apple.mpegurl2", "", false},
		{"mpegurl in a parameter", "text/plain; x=application/x-mpegurl", "", false},
		{"malformed type", ";;;", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsPlaylist(tt.contentType, []byte(tt.head)); got != tt.want {
				t.Errorf("IsPlaylist(%q, %q) = %v, want %v", tt.contentType, tt.head, got, tt.want)
			}
		})
	}
}
