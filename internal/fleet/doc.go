// Package fleet holds hlsgate's fleet integration test: three hlsgate
// processes (the real binary, built once per run, with the race detector when
// the test has it) share one PostgreSQL database in front of a ffmpeg live
// origin, and one viewer's requests are spread round-robin over them, as a
// load balancer would. The test shows that playback survives a replica being
// killed and restarted and the database being unreachable for 10 s (the API
// answering 503 meanwhile), and that a logout and a stream URL change made on
// one replica reach every replica within 2 s.
//
// It has no non-test code. It must not stop or reconfigure the machine's
// PostgreSQL, which other packages' tests use at the same time: the outage is
// simulated by a TCP forwarder of its own between the replicas and
// PostgreSQL, and the data lives in a schema of its own, dropped at the end.
//
// It needs PostgreSQL (HLSGATE_TEST_POSTGRES_DSN; without it the test skips,
// or fails under HLSGATE_TEST_REQUIRE_POSTGRES=1), ffmpeg (a skip, or a failure
// under HLSGATE_TEST_REQUIRE_E2E=1) and the go command to build hlsgate.
package fleet
