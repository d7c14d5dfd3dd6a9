package playlist

import (
	"go/build"
	"strings"
	"testing"
)

// The package must import only the standard library (see the package doc).
// Standard-library paths have no dot in their first element.
func TestImportsOnlyStandardLibrary(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkg.Imports) == 0 {
		t.Fatal("found no imports; is the directory right?")
	}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if strings.Contains(first, ".") {
			t.Errorf("imports %q; playlist may import only the standard library", imp)
		}
	}
}
