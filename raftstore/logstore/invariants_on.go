//go:build invariants

package logstore

// invariants enables the package's assertions; build with -tags invariants.
const invariants = true
