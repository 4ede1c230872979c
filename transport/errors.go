package transport

import (
	"context"
	"errors"
	"fmt"

	"github.com/quic-go/quic-go"

	"github.com/zkvlabs/zkv/transport/frame"
)

// ErrCode is a zkv wire error code: the reason sent with a QUIC CONNECTION_CLOSE, a stream
// reset (RESET_STREAM, STOP_SENDING) or an error frame, so the peer learns why.
type ErrCode quic.ApplicationErrorCode

// The codes are part of the "zkv/1" protocol: never renumber one.
const (
	ErrCodeNoError          ErrCode = 0x0
	ErrCodeInternal         ErrCode = 0x1
	ErrCodeProtocol         ErrCode = 0x2 // a frame where the protocol allows none, or a bad topic name
	ErrCodeUnknownFrameType ErrCode = 0x3
	ErrCodeBadFlags         ErrCode = 0x4
	ErrCodeFrameTooLarge    ErrCode = 0x5
	ErrCodeCorruptPayload   ErrCode = 0x6 // a compressed payload that does not decode to its declared size
	ErrCodeTruncatedFrame   ErrCode = 0x7
	ErrCodeRequestRejected  ErrCode = 0x8 // the handler refused the request; the error frame says why
	ErrCodeUnknownTopic     ErrCode = 0x9
	ErrCodeSlowSubscriber   ErrCode = 0xa // the subscriber's queue filled up and it was dropped
	ErrCodeShuttingDown     ErrCode = 0xb
	ErrCodeCanceled         ErrCode = 0xc // the local caller gave up (its context ended)
	ErrCodeNotAllowed       ErrCode = 0xd // the peer was removed from the allow-list
	ErrCodeTooManyConns     ErrCode = 0xe // the peer has MaxConnsPerPeer connections already

	maxErrCode = ErrCodeTooManyConns
)

func (e ErrCode) String() string {
	switch e {
	case ErrCodeNoError:
		return "NO_ERROR"
	case ErrCodeInternal:
		return "INTERNAL_ERROR"
	case ErrCodeProtocol:
		return "PROTOCOL_ERROR"
	case ErrCodeUnknownFrameType:
		return "UNKNOWN_FRAME_TYPE"
	case ErrCodeBadFlags:
		return "BAD_FLAGS"
	case ErrCodeFrameTooLarge:
		return "FRAME_TOO_LARGE"
	case ErrCodeCorruptPayload:
		return "CORRUPT_PAYLOAD"
	case ErrCodeTruncatedFrame:
		return "TRUNCATED_FRAME"
	case ErrCodeRequestRejected:
		return "REQUEST_REJECTED"
	case ErrCodeUnknownTopic:
		return "UNKNOWN_TOPIC"
	case ErrCodeSlowSubscriber:
		return "SLOW_SUBSCRIBER"
	case ErrCodeShuttingDown:
		return "SHUTTING_DOWN"
	case ErrCodeCanceled:
		return "CANCELED"
	case ErrCodeNotAllowed:
		return "NOT_ALLOWED"
	case ErrCodeTooManyConns:
		return "TOO_MANY_CONNECTIONS"
	}
	return fmt.Sprintf("unknown error code %#x", uint64(e))
}

// label is the code's metric label: its name, or "OTHER" for a code zkv does not define, so
// that a peer choosing codes cannot create metric series without bound.
func (e ErrCode) label() string {
	if e > maxErrCode {
		return "OTHER"
	}
	return e.String()
}

// Error is a failure with a wire code: one the peer reported (Remote), or one this side
// reported to the peer. Callers branch on Code.
type Error struct {
	Code    ErrCode
	Remote  bool
	Message string
}

func (e *Error) Error() string {
	who := "local"
	if e.Remote {
		who = "remote"
	}
	if e.Message == "" {
		return fmt.Sprintf("%s (%s)", e.Code, who)
	}
	return fmt.Sprintf("%s (%s): %s", e.Code, who, e.Message)
}

// Is makes errors.Is(err, &Error{Code: c}) match any *Error with code c.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// CodeOf returns the wire code that describes err: its own for an *Error, a stream or
// connection error from the peer; the matching code for a refused frame; ErrCodeCanceled for
// an ended context; ErrCodeInternal otherwise.
func CodeOf(err error) ErrCode {
	var (
		te *Error
		se *quic.StreamError
		ae *quic.ApplicationError
	)
	switch {
	case err == nil:
		return ErrCodeNoError
	case errors.As(err, &te):
		return te.Code
	case errors.As(err, &se):
		return ErrCode(se.ErrorCode)
	case errors.As(err, &ae):
		return ErrCode(ae.ErrorCode)
	case errors.Is(err, frame.ErrUnknownType):
		return ErrCodeUnknownFrameType
	case errors.Is(err, frame.ErrBadFlags):
		return ErrCodeBadFlags
	case errors.Is(err, frame.ErrTooLarge):
		return ErrCodeFrameTooLarge
	case errors.Is(err, frame.ErrCorrupt):
		return ErrCodeCorruptPayload
	case errors.Is(err, frame.ErrTruncated):
		return ErrCodeTruncatedFrame
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ErrCodeCanceled
	}
	return ErrCodeInternal
}

// wireError turns quic-go's stream and connection errors into an *Error, so callers see one
// error type whatever layer the code arrived on. Other errors are returned unchanged.
func wireError(err error) error {
	var (
		se *quic.StreamError
		ae *quic.ApplicationError
	)
	switch {
	case errors.As(err, &se):
		return &Error{Code: ErrCode(se.ErrorCode), Remote: se.Remote, Message: fmt.Sprintf("stream %d reset", se.StreamID)}
	case errors.As(err, &ae):
		return &Error{Code: ErrCode(ae.ErrorCode), Remote: ae.Remote, Message: "connection closed: " + ae.ErrorMessage}
	}
	return err
}
