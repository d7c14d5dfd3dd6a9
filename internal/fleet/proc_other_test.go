//go:build !linux

package fleet

import "os/exec"

// setProcAttrs does nothing where there is no parent-death signal; Cleanup
// still kills every replica.
func setProcAttrs(*exec.Cmd) {}
