//go:build !race

package chaos

// raceEnabled builds the nodes with -race too when the tests run with it.
const raceEnabled = false
