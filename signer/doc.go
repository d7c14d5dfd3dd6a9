// Package signer owns hlsgate's stream tokens: their binary format (version 1),
// signing, verification, client binding and the key ring used for rotation.
//
// A token is self-contained: any replica that holds the shared key ring can
// verify it without a database or another replica. The package therefore keeps
// no per-token state and must not do I/O; revocation is asked of a caller
// supplied in-memory [RevocationChecker]. It imports the standard library only,
// so it can be reviewed and fuzzed on its own.
//
// # Token format v1
//
// The token is the unpadded base64url encoding (URL-unreserved characters only)
// of this length-delimited payload followed by its MAC:
//
//	version     1 byte, = 1
//	key id      1 byte length (1..8) + id bytes
//	user id     uvarint (minimal encoding, < 2^63)
//	session id  16 bytes
//	stream id   uvarint
//	IP hash     8 bytes, HMAC of the masked client address, zeros when IP binding is off
//	UA hash     8 bytes, HMAC of the User-Agent, zeros when UA binding is off
//	session exp uvarint, unix seconds
//	expires     uvarint, unix seconds
//	MAC         16 bytes: HMAC-SHA256 over all preceding bytes, truncated
//
// Every hash is keyed with a sub-key derived from the token's key (see
// [Key.Derive]), so the client address and User-Agent cannot be recovered from
// a token, and the MAC key never equals the JWT key. Decoding refuses anything
// non-canonical, so each accepted token has exactly one spelling: a mutated
// string never verifies, and equal inputs always sign to equal strings (which
// LL-HLS needs: a PRELOAD-HINT URI must equal the later PART URI).
package signer
