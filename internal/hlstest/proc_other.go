//go:build !linux

package hlstest

import "os/exec"

// setProcAttrs keeps exec's default of killing the child on cancel: the
// parent-death signal is Linux-only, and the harness's supported platform is
// Linux.
func setProcAttrs(cmd *exec.Cmd) {}
