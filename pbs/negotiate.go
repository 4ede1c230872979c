package pbs

import (
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"

	"github.com/attestantio/go-eth2-client/spec"
)

// Media types of the builder API: JSON, and SSZ as application/octet-stream (builder-specs
// "Content negotiation").
const (
	MediaJSON = "application/json"
	MediaSSZ  = "application/octet-stream"
)

// VersionHeader names the fork of a versioned body, in requests and responses.
const VersionHeader = "Eth-Consensus-Version"

// Content negotiation errors: 406 and 415 in HTTP.
var (
	ErrNotAcceptable        = errors.New("pbs: no acceptable media type")
	ErrUnsupportedMediaType = errors.New("pbs: unsupported media type")
	ErrVersion              = errors.New("pbs: unsupported or missing consensus version")
)

// Negotiate picks the media type to answer in from an Accept header (RFC 9110 12.5.1): the
// offer with the highest q-value, ties going to the earlier offer (the server's preference). An
// empty header accepts the first offer; q=0 refuses a type. ErrNotAcceptable when no offer is
// acceptable.
func Negotiate(accept string, offers ...string) (string, error) {
	if len(offers) == 0 {
		return "", ErrNotAcceptable
	}
	if strings.TrimSpace(accept) == "" {
		return offers[0], nil
	}
	best, bestQ := "", -1.0
	for _, offer := range offers {
		q, specificity := -1.0, -1
		for _, part := range strings.Split(accept, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			s := matches(mt, offer)
			if s < 0 || s < specificity {
				continue
			}
			pq := 1.0
			if v, ok := params["q"]; ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || f < 0 || f > 1 {
					continue
				}
				pq = f
			}
			// The most specific range that matches decides the offer's quality.
			if s > specificity {
				q, specificity = pq, s
			} else if pq > q {
				q = pq
			}
		}
		if q > 0 && q > bestQ {
			best, bestQ = offer, q
		}
	}
	if best == "" {
		return "", fmt.Errorf("%w: Accept %q, the server offers %s", ErrNotAcceptable, accept, strings.Join(offers, ", "))
	}
	return best, nil
}

// matches says how specifically a media range matches a type: 2 exact, 1 type/*, 0 */*, -1 not.
func matches(mediaRange, offer string) int {
	switch {
	case mediaRange == offer:
		return 2
	case mediaRange == "*/*":
		return 0
	case strings.HasSuffix(mediaRange, "/*") && strings.HasPrefix(offer, strings.TrimSuffix(mediaRange, "*")):
		return 1
	}
	return -1
}

// RequestMediaType reads a request's Content-Type: JSON (the default when absent, as clients of
// the builder API send it) or SSZ; anything else is ErrUnsupportedMediaType.
func RequestMediaType(contentType string) (string, error) {
	if strings.TrimSpace(contentType) == "" {
		return MediaJSON, nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", fmt.Errorf("%w: Content-Type %q: %v", ErrUnsupportedMediaType, contentType, err)
	}
	if mt != MediaJSON && mt != MediaSSZ {
		return "", fmt.Errorf("%w: Content-Type %q, want %s or %s", ErrUnsupportedMediaType, contentType, MediaJSON, MediaSSZ)
	}
	return mt, nil
}

// ParseVersion reads Eth-Consensus-Version: "electra" or "fulu" (the forks zkv serves),
// case-insensitive.
func ParseVersion(header string) (spec.DataVersion, error) {
	switch strings.ToLower(strings.TrimSpace(header)) {
	case "electra":
		return spec.DataVersionElectra, nil
	case "fulu":
		return spec.DataVersionFulu, nil
	case "":
		return spec.DataVersionUnknown, fmt.Errorf("%w: %s header missing", ErrVersion, VersionHeader)
	}
	return spec.DataVersionUnknown, fmt.Errorf("%w: %s %q, want electra or fulu", ErrVersion, VersionHeader, header)
}
