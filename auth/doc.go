// Package auth owns who a caller is: password hashing, the JWT access tokens
// of the management API, login sessions, login throttling and the in-memory
// set of revoked sessions that every replica consults when it verifies a
// stream token.
//
// It holds no per-request state beyond that set and never logs secrets,
// passwords or tokens. It knows nothing about HTTP.
package auth
