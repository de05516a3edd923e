//go:build !invariants

package mqtt

// invariants enables the package's self-checks; build with -tags invariants.
const invariants = false
