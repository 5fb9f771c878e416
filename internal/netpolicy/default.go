package netpolicy

import "sync/atomic"

var installed atomic.Pointer[Policy]

// SetDefault installs p as the process-wide policy (the binary does it once
// at startup, before building any client); nil restores Permissive.
func SetDefault(p *Policy) { installed.Store(p) }

// Default returns the process-wide policy: the one SetDefault installed,
// else Permissive.
func Default() *Policy {
	if p := installed.Load(); p != nil {
		return p
	}
	return Permissive()
}
