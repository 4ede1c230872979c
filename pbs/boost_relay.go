package pbs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	builderclient "github.com/attestantio/go-builder-client"
	builderelectra "github.com/attestantio/go-builder-client/api/electra"
	builderspec "github.com/attestantio/go-builder-client/spec"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/transport"
)

// Request headers mev-boost sends to relays (mev-boost server/constants.go): when the request
// left, in Unix milliseconds, and how long the sidecar will wait for the answer, so that a
// relay can measure its latency and time its answer.
const (
	HeaderDateMilliseconds = "Date-Milliseconds"
	HeaderTimeoutMs        = "X-Timeout-Ms"
)

// acceptBid asks relays for SSZ first (smaller and faster to decode), JSON otherwise.
const acceptBid = "application/octet-stream;q=1.0,application/json;q=0.9"

// maxBidBody bounds a getHeader answer: a bid is a few KB (a header, up to 4,096 blob
// commitments of 48 bytes, the execution requests).
const maxBidBody = 1 << 20

// RelayEntry is a relay the sidecar asks: its base URL, the key its bids must be signed by
// (given as the URL's user, http://0xPUBKEY@host, as mev-boost takes relays) and, when the relay
// offers its top-bid stream over zkv's QUIC transport, the UDP address and transport key of its
// QUIC door (the URL's fragment: http://0xPUBKEY@host#quic=ADDR@PEERID).
type RelayEntry struct {
	URL    string
	Pubkey phase0.BLSPubKey
	// QUICAddr is the relay's QUIC door, host:port (UDP); empty when it has none.
	QUICAddr string
	// QUICPeer is the transport key the relay's QUIC door presents ("relay quic: ADDR key ID").
	QUICPeer transport.PeerID
}

// String is the relay's URL with its key and QUIC door: what ParseRelayURL reads back.
func (e RelayEntry) String() string {
	u, err := url.Parse(e.URL)
	if err != nil {
		return e.URL
	}
	u.User = url.User(fmt.Sprintf("%#x", e.Pubkey[:]))
	s := u.String()
	if e.QUICAddr != "" {
		s += "#quic=" + e.QUICAddr + "@" + e.QUICPeer.String()
	}
	return s
}

// ParseRelayURL reads http(s)://0xPUBKEY@host[:port][#quic=ADDR@PEERID]; the pubkey is
// required, since a relay's bids are only as good as the key they are checked against. The
// fragment names the relay's QUIC door: its UDP host:port and the 64 hex digits of its transport
// key, which the sidecar pins when it subscribes to the relay's top-bid stream.
func ParseRelayURL(s string) (RelayEntry, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return RelayEntry{}, fmt.Errorf("relay URL %q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return RelayEntry{}, fmt.Errorf("relay URL %q: scheme http or https", s)
	}
	if u.User == nil || u.User.Username() == "" {
		return RelayEntry{}, fmt.Errorf("relay URL %q: the relay's public key is missing (http://0xPUBKEY@host)", s)
	}
	if u.Host == "" {
		return RelayEntry{}, fmt.Errorf("relay URL %q: no host", s)
	}
	var e RelayEntry
	if err := hexTo(e.Pubkey[:], u.User.Username()); err != nil {
		return RelayEntry{}, fmt.Errorf("relay URL %q: public key: %w", s, err)
	}
	if u.Fragment != "" {
		q, ok := strings.CutPrefix(u.Fragment, "quic=")
		addr, peer, ok2 := strings.Cut(q, "@")
		if !ok || !ok2 {
			return RelayEntry{}, fmt.Errorf("relay URL %q: fragment %q: want #quic=HOST:PORT@PEERID", s, u.Fragment)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return RelayEntry{}, fmt.Errorf("relay URL %q: QUIC address: %w", s, err)
		}
		if e.QUICPeer, err = transport.ParsePeerID(peer); err != nil {
			return RelayEntry{}, fmt.Errorf("relay URL %q: QUIC key: %w", s, err)
		}
		e.QUICAddr = addr
	}
	u.User, u.Fragment, u.RawFragment = nil, "", ""
	e.URL = strings.TrimSuffix(u.String(), "/")
	return e, nil
}

// relay is one relay the sidecar uses, shared by every relay set that names it: its HTTP
// client, its health and, when it has a QUIC door, its top-bid stream.
type relay struct {
	RelayEntry
	key  string // identity across reloads: the entry's string form
	name string // metrics label: host:port
	hc   *http.Client
	svc  builderclient.Service // unblinding (go-builder-client)
	// cancel ends the context svc and hc's idle connections live in.
	cancel context.CancelFunc

	mu       sync.Mutex
	fails    int    // consecutive failed calls
	lastErr  string // the last failure, for status
	lastSlot phase0.Slot

	stream *bidStream // nil without a QUIC door
}

// close ends the relay's clients and its stream once no configuration refers to it. A request
// still in flight keeps its own context and finishes.
func (r *relay) close() {
	r.cancel()
	if r.stream != nil {
		r.stream.stop()
	}
}

// record notes one call's outcome: a failure counts towards marking the relay down, a success
// brings it back up.
func (r *relay) record(err error, m *boostMetrics, downAfter int) {
	r.mu.Lock()
	if err == nil {
		r.fails, r.lastErr = 0, ""
	} else {
		r.fails++
		r.lastErr = err.Error()
	}
	up := r.fails < downAfter
	r.mu.Unlock()
	m.relayUp(r.name, up)
}

// up reports whether the relay has failed fewer than downAfter calls in a row.
func (r *relay) up(downAfter int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fails < downAfter
}

// errRelayStatus is a relay's answer with a status code getHeader does not expect.
var errRelayStatus = errors.New("relay answered with an unexpected status")

// getHeader asks the relay for its bid over HTTP, with mev-boost's request headers; a nil bid
// and nil error mean 204, no bid.
func (r *relay) getHeader(ctx context.Context, slot phase0.Slot, parent phase0.Hash32, pubkey phase0.BLSPubKey, now time.Time, budget time.Duration, m *boostMetrics) (*builderspec.VersionedSignedBuilderBid, error) {
	path := fmt.Sprintf("/eth/v1/builder/header/%d/%#x/%#x", slot, parent[:], pubkey[:])
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", acceptBid)
	req.Header.Set("User-Agent", "zkv-boost")
	req.Header.Set(HeaderDateMilliseconds, strconv.FormatInt(now.UnixMilli(), 10))
	req.Header.Set(HeaderTimeoutMs, strconv.FormatInt(max(budget.Milliseconds(), 1), 10))
	start := time.Now()
	resp, err := r.hc.Do(req)
	m.relayLatency(endpointHeader, r.name, time.Since(start))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	m.relayStatus(resp.StatusCode, endpointHeader, r.name)
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBidBody+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("read bid: %w", err)
	case resp.StatusCode == http.StatusNoContent:
		return nil, nil
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: %d %.200s", errRelayStatus, resp.StatusCode, body)
	case len(body) > maxBidBody:
		return nil, fmt.Errorf("bid over %d bytes", maxBidBody)
	}
	return decodeBid(body, resp.Header.Get("Content-Type"), resp.Header.Get(VersionHeader))
}

// decodeBid reads a relay's getHeader answer: SSZ of the fork Eth-Consensus-Version names, or
// the versioned JSON object.
func decodeBid(body []byte, contentType, version string) (*builderspec.VersionedSignedBuilderBid, error) {
	media, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		media = MediaJSON // mev-boost's default for a relay that names no type
	}
	switch media {
	case MediaSSZ:
		v, err := ParseVersion(version)
		if err != nil {
			return nil, fmt.Errorf("SSZ bid: %w", err)
		}
		return sszBid(v, body)
	case MediaJSON:
		var bid builderspec.VersionedSignedBuilderBid
		if err := bid.UnmarshalJSON(body); err != nil {
			return nil, fmt.Errorf("decode JSON bid: %w", err)
		}
		return &bid, nil
	}
	return nil, fmt.Errorf("bid of content type %q", media)
}

// sszBid decodes the SSZ SignedBuilderBid of fork v (Electra and Fulu share the type).
func sszBid(v spec.DataVersion, b []byte) (*builderspec.VersionedSignedBuilderBid, error) {
	var sb builderelectra.SignedBuilderBid
	if err := sb.UnmarshalSSZ(b); err != nil {
		return nil, fmt.Errorf("decode SSZ %s bid: %w", v, err)
	}
	out := &builderspec.VersionedSignedBuilderBid{Version: v}
	switch v {
	case spec.DataVersionElectra:
		out.Electra = &sb
	case spec.DataVersionFulu:
		out.Fulu = &sb
	default:
		return nil, fmt.Errorf("bid of fork %s: want electra or fulu", v)
	}
	return out, nil
}
