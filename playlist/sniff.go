package playlist

import (
	"bytes"
	"strings"
)

// IsPlaylist reports whether a response is an HLS playlist, by its
// Content-Type (application/vnd.apple.mpegurl, application/x-mpegurl,
// audio/mpegurl, audio/x-mpegurl; parameters and case ignored) or by a body
// that starts with #EXTM3U, optionally after a UTF-8 BOM. head is the start
// of the body; a few bytes are enough.
//
// It never looks at a file extension: origins serve playlists from URLs
// without ".m3u8" and segments from URLs with it.
func IsPlaylist(contentType string, head []byte) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	if strings.EqualFold(mt, "application/vnd.apple.mpegurl") ||
		strings.EqualFold(mt, "application/x-mpegurl") ||
		strings.EqualFold(mt, "audio/mpegurl") ||
		strings.EqualFold(mt, "audio/x-mpegurl") {
		return true
	}
	const tag = "#EXTM3U"
	head = bytes.TrimPrefix(head, []byte(bom))
	if !bytes.HasPrefix(head, []byte(tag)) {
		return false
	}
	// Same rule as Rewrite's first line, so "#EXTM3Ux" is not sniffed as a
	// playlist only to be refused later; a head cut right after the tag counts.
	if len(head) == len(tag) {
		return true
	}
	switch head[len(tag)] {
	case ' ', '\t', '\r', '\n':
		return true
	}
	return false
}
