//go:build !linux

package main

import "time"

// procCPU is unavailable off Linux: the CPU columns stay empty.
func procCPU(pid int) (time.Duration, bool) { return 0, false }
