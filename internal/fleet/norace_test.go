//go:build !race

package fleet

// raceEnabled reports whether the test runs with -race; the replicas are
// then built with it too.
const raceEnabled = false
