//go:build linux

package main

import (
	"os/exec"
	"syscall"
)

// setProcAttrs asks the kernel to kill the child when loadbench dies
// without running its cleanup (SIGKILL, a crash), so no hlsgate, origin or
// wrk outlives the benchmark.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
