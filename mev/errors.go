package mev

import (
	"errors"
	"fmt"
)

// Step names a check of the relay's submission pipeline, in the order they run (the issue's
// list, as mev-boost-relay orders them).
type Step int

// Submission checks, in order.
const (
	StepDecode     Step = iota + 1 // size and decoding
	StepBuilder                    // the builder is not blacklisted
	StepFork                       // the fork matches the slot
	StepSlot                       // the slot is not in the past
	StepTimestamp                  // the payload's timestamp is the slot's
	StepProposer                   // proposer duty known, fee recipient as registered
	StepTrace                      // bid trace equals the payload
	StepAttributes                 // withdrawals, prev_randao, parent beacon root as announced
	StepSignature                  // builder's signature under the builder domain
	StepDelivered                  // the slot's payload is not yet delivered
	StepFloor                      // above the auction's floor
	StepSimulation                 // the execution client's simulation (when configured)
)

var stepNames = map[Step]string{
	StepDecode: "decode", StepFork: "fork", StepSlot: "slot", StepTimestamp: "timestamp",
	StepProposer: "proposer", StepTrace: "bid trace", StepAttributes: "payload attributes",
	StepSignature: "signature", StepDelivered: "delivered", StepFloor: "bid floor",
	StepBuilder: "builder", StepSimulation: "simulation",
}

// String names the step.
func (s Step) String() string {
	if n, ok := stepNames[s]; ok {
		return n
	}
	return fmt.Sprintf("step(%d)", int(s))
}

// SubmissionError is a refused builder submission: the step that refused it and why. HTTP
// answers it with 400 and the message.
type SubmissionError struct {
	Step   Step
	Reason string
}

func (e *SubmissionError) Error() string { return e.Step.String() + ": " + e.Reason }

func refuse(step Step, format string, args ...any) error {
	return &SubmissionError{Step: step, Reason: fmt.Sprintf(format, args...)}
}

// Errors of the proposer-facing API.
var (
	// ErrNoBid: no bid for (slot, parent hash, proposer): 204.
	ErrNoBid = errors.New("mev: no bid")
	// ErrEquivocation: a second, different signed blinded block for a slot whose payload was
	// delivered.
	ErrEquivocation = errors.New("mev: proposer equivocation")
	// ErrBadRequest wraps every other refusal of a proposer's request (400).
	ErrBadRequest = errors.New("mev: bad request")
	// ErrUnavailable: the relay cannot answer now (its beacon node fails): 503.
	ErrUnavailable = errors.New("mev: unavailable")
)

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}
