// Package e2e holds hlsgate's end-to-end tests: whole replicas (server.New
// on a real SQLite file or PostgreSQL) in front of ffmpeg-made origins,
// played by real clients (ffmpeg, hls.js in headless Chromium). It has no
// non-test code.
package e2e
