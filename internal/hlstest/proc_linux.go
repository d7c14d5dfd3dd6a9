//go:build linux

package hlstest

import (
	"os/exec"
	"syscall"
)

// setProcAttrs makes cancelling the command's context send SIGTERM, so
// ffmpeg writes its trailer and playwright closes Chromium (it starts the
// browser in a process group of its own and kills that group on SIGTERM);
// exec.Cmd.WaitDelay escalates to SIGKILL. Pdeathsig asks the kernel to kill
// the child if the test binary dies without running its Cleanups (a test
// timeout, a SIGKILL), so no ffmpeg -re outlives the test.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
}
