package playlist

import "strconv"

// Kind says where in a playlist a URI stood. The proxy uses it to choose how
// to treat the target (a nested playlist is rewritten again, a segment is
// streamed through) and to label log lines.
type Kind uint8

// The places a playlist can carry a URI (RFC 8216 and draft-pantos-hls-rfc8216bis).
const (
	// KindSegment is a URI line in a media playlist, normally after EXTINF;
	// other tags (PROGRAM-DATE-TIME, BYTERANGE, DISCONTINUITY, ...) may stand between.
	KindSegment Kind = iota + 1
	// KindVariant is the URI line after EXT-X-STREAM-INF.
	KindVariant
	// KindMedia is the URI attribute of EXT-X-MEDIA.
	KindMedia
	// KindIFrame is the URI attribute of EXT-X-I-FRAME-STREAM-INF.
	KindIFrame
	// KindImage is the URI attribute of EXT-X-IMAGE-STREAM-INF.
	KindImage
	// KindKey is the URI attribute of EXT-X-KEY.
	KindKey
	// KindSessionKey is the URI attribute of EXT-X-SESSION-KEY.
	KindSessionKey
	// KindMap is the URI attribute of EXT-X-MAP.
	KindMap
	// KindPart is the URI attribute of EXT-X-PART.
	KindPart
	// KindPreloadHint is the URI attribute of EXT-X-PRELOAD-HINT.
	KindPreloadHint
	// KindRenditionReport is the URI attribute of EXT-X-RENDITION-REPORT.
	KindRenditionReport
	// KindSessionData is the URI attribute of EXT-X-SESSION-DATA (a JSON document).
	KindSessionData
	// KindSteering is the SERVER-URI attribute of EXT-X-CONTENT-STEERING (a JSON document).
	KindSteering
	// KindAsset is the X-ASSET-URI attribute of an interstitial EXT-X-DATERANGE.
	KindAsset
	// KindAssetList is the X-ASSET-LIST attribute of an interstitial EXT-X-DATERANGE (a JSON document).
	KindAssetList
)

// String returns a short lower-case name for logs, such as "segment" or "preload-hint".
func (k Kind) String() string {
	switch k {
	case KindSegment:
		return "segment"
	case KindVariant:
		return "variant"
	case KindMedia:
		return "media"
	case KindIFrame:
		return "iframe"
	case KindImage:
		return "image"
	case KindKey:
		return "key"
	case KindSessionKey:
		return "session-key"
	case KindMap:
		return "map"
	case KindPart:
		return "part"
	case KindPreloadHint:
		return "preload-hint"
	case KindRenditionReport:
		return "rendition-report"
	case KindSessionData:
		return "session-data"
	case KindSteering:
		return "steering"
	case KindAsset:
		return "asset"
	case KindAssetList:
		return "asset-list"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// IsPlaylistKind reports whether a URI of kind k names another playlist
// (Variant, Media, IFrame, Image, RenditionReport), so the proxy must rewrite
// the response too instead of streaming it through.
//
// Asset URIs (KindAsset) usually name a playlist as well, but they may name
// any media the player can play; callers should sniff those with IsPlaylist.
func IsPlaylistKind(k Kind) bool {
	switch k {
	case KindVariant, KindMedia, KindIFrame, KindImage, KindRenditionReport:
		return true
	}
	return false
}
