//go:build !linux

package main

import "os/exec"

// setProcAttrs does nothing: the parent-death signal is Linux-only. The
// origin still exits when its stdin (a pipe from loadbench) closes, and the
// deferred cleanup stops every child on a normal exit or Ctrl-C.
func setProcAttrs(cmd *exec.Cmd) {}
