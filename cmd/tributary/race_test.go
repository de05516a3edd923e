//go:build race

package main

// raceEnabled makes the end-to-end test build the binary with -race too,
// when the tests themselves run with it.
const raceEnabled = true
