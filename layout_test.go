package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirections keeps the layout honest: only main imports server,
// and the proxy never depends on server, directly or not. (signer and
// playlist check their own standard-library-only rule.)
func TestImportDirections(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}: {{join .Deps \" \"}}", "./...").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	const mod = "github.com/hlsgate/hlsgate"
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, list, _ := strings.Cut(line, ": ")
		if strings.HasPrefix(pkg, mod) {
			deps[pkg] = strings.Fields(list)
		}
	}
	if len(deps) < 6 {
		t.Fatalf("go list found only %d packages of the module", len(deps))
	}
	for pkg, ds := range deps {
		for _, d := range ds {
			if d != mod+"/server" {
				continue
			}
			switch {
			case pkg == mod, strings.HasPrefix(pkg, mod+"/internal/"):
				// main, and test-only packages that drive whole replicas
			default:
				t.Errorf("%s depends on %s/server: only main may", pkg, mod)
			}
		}
	}
	for _, d := range deps[mod+"/proxy"] {
		if d == mod+"/server" || d == mod+"/auth" || strings.HasPrefix(d, mod+"/server/") {
			t.Errorf("proxy depends on %s; it declares the interfaces it needs instead", d)
		}
	}
}
