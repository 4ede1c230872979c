package beacon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// eventTopics are the event-stream topics the node emits (the Beacon API's eventstream).
var eventTopics = map[string]bool{
	"head": true, "block": true, "attestation": true, "single_attestation": true,
	"finalized_checkpoint": true, "chain_reorg": true, "payload_attributes": true,
	"voluntary_exit": true, "contribution_and_proof": true,
}

// subscriberQueue bounds the events waiting for one subscriber; a subscriber that falls this far
// behind is disconnected (it reconnects and reads the node's state) rather than slowing the node.
const subscriberQueue = 256

type event struct {
	topic string
	data  []byte
}

type subscriber struct {
	topics map[string]bool
	ch     chan event
	gone   chan struct{} // closed when the hub drops the subscriber
}

// eventHub fans events out to server-sent-event subscribers.
type eventHub struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

func newEventHub() *eventHub { return &eventHub{subs: make(map[*subscriber]struct{})} }

// publish sends data (JSON-encoded) to every subscriber of topic, never blocking.
func (h *eventHub) publish(topic string, data any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) == 0 {
		return
	}
	b, err := json.Marshal(data)
	if err != nil {
		return
	}
	for s := range h.subs {
		if !s.topics[topic] {
			continue
		}
		select {
		case s.ch <- event{topic, b}:
		default:
			delete(h.subs, s)
			close(s.gone)
		}
	}
}

func (h *eventHub) subscribe(topics map[string]bool) *subscriber {
	s := &subscriber{topics: topics, ch: make(chan event, subscriberQueue), gone: make(chan struct{})}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

func (h *eventHub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.gone)
	}
	h.mu.Unlock()
}

// serveEvents is GET /eth/v1/events?topics=a,b: a text/event-stream until the client leaves.
func (n *Node) serveEvents(w http.ResponseWriter, r *http.Request) {
	topics := map[string]bool{}
	for _, q := range r.URL.Query()["topics"] {
		for _, t := range strings.Split(q, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			if !eventTopics[t] {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid topic %q: the node emits %s", t, topicList()))
				return
			}
			topics[t] = true
		}
	}
	if len(topics) == 0 {
		writeError(w, http.StatusBadRequest, "topics query parameter is required")
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	s := n.events.subscribe(topics)
	defer n.events.unsubscribe(s)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-n.done:
			return
		case <-s.gone:
			return
		case ev := <-s.ch:
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.topic, ev.data); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}

func topicList() string {
	var ts []string
	for t := range eventTopics {
		ts = append(ts, t)
	}
	sortStrings(ts)
	return strings.Join(ts, ", ")
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// Event payloads in the Beacon API's JSON shapes (numbers as decimal strings).
type headEvent struct {
	Slot                      string `json:"slot"`
	Block                     string `json:"block"`
	State                     string `json:"state"`
	EpochTransition           bool   `json:"epoch_transition"`
	PreviousDutyDependentRoot string `json:"previous_duty_dependent_root"`
	CurrentDutyDependentRoot  string `json:"current_duty_dependent_root"`
	ExecutionOptimistic       bool   `json:"execution_optimistic"`
}

type blockEvent struct {
	Slot                string `json:"slot"`
	Block               string `json:"block"`
	ExecutionOptimistic bool   `json:"execution_optimistic"`
}

type finalizedEvent struct {
	Block               string `json:"block"`
	State               string `json:"state"`
	Epoch               string `json:"epoch"`
	ExecutionOptimistic bool   `json:"execution_optimistic"`
}
