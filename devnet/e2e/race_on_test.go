//go:build race

package e2e_test

// raceEnabled: the race detector slows signing and the node's checks several times over, so the
// tests give each slot two seconds instead of one.
const raceEnabled = true
