//go:build linux

package fleet

import (
	"os/exec"
	"syscall"
)

// setProcAttrs asks the kernel to kill a replica when the test binary dies
// without running its Cleanups (a test timeout, a SIGKILL), so no hlsgate
// outlives the test.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
