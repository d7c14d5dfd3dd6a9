// Package proxy owns the player path, GET /api/hls/{token}/{streamID}/{path}:
// it verifies the stream token (signer, client binding, revocation set),
// finds the stream's upstream URL in an in-memory cache, maps the request
// path onto the stream's allowed origins, fetches from the origin through an
// SSRF-guarded transport, streams segments through and rewrites playlists so
// every URI in them comes back through hlsgate with a fresh token.
//
// It declares the small interfaces it needs (a stream lookup) and never
// imports package server. It never logs tokens or origin URLs' queries.
package proxy
