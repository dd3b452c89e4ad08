//go:build linux && cgo

package debugstats

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

// trim calls glibc's malloc_trim(0) where the C library has it (looked up
// at run time, so that other C libraries link too); -1 where it has not.
static int trim(void) {
	int (*f)(size_t) = (int (*)(size_t))dlsym(RTLD_DEFAULT, "malloc_trim");
	return f ? f(0) : -1;
}
*/
import "C"

// trimC returns the C heap's free memory (ONNX Runtime's, the GL
// driver's) to the system, so that RSS counts what C holds, not what its
// allocator keeps for later.
func trimC() { C.trim() }
