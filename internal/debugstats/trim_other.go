//go:build !(linux && cgo)

package debugstats

// trimC does nothing here: there is no malloc_trim to call.
func trimC() {}
