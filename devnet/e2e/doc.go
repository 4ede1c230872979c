// Package e2e holds end-to-end tests that join zkv's parts over real protocols on 127.0.0.1:
// the devnet beacon node as the chain, the relay (package mev) in front of it, a test builder
// building payloads with package devnet/beacon/execution, and go-builder-client and the devnet
// node as the relay's proposers; and the validator client (package validator/client) doing its
// duties against the devnet beacon node. It has no code of its own; it sits under devnet because
// it imports devnet (DESIGN.md, "Layout and dependency direction").
package e2e
