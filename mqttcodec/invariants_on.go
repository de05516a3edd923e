//go:build invariants

package mqttcodec

// invariants enables the package's self-checks; build with -tags invariants.
const invariants = true
