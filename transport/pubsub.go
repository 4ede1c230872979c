package transport

import (
	"sync"
)

// topic is one topic's set of subscribers.
type topic struct {
	name   string
	mu     sync.RWMutex
	subs   map[*subscriber]struct{}
	closed bool
}

// queued is one encoded frame waiting for a subscriber; b is shared by every subscriber.
type queued struct {
	b       []byte
	payload int
}

// subscriber is one subscription's bounded queue.
type subscriber struct {
	queue  chan queued
	done   chan struct{}
	once   sync.Once
	code   ErrCode // set before done is closed
	cancel func(ErrCode)
}

func newSubscriber(n int, cancel func(ErrCode)) *subscriber {
	return &subscriber{queue: make(chan queued, n), done: make(chan struct{}), cancel: cancel}
}

// end drops the subscriber with code; the first call wins.
func (s *subscriber) end(code ErrCode) {
	s.once.Do(func() {
		s.code = code
		close(s.done)
		s.cancel(code)
	})
}

// reason returns the code the subscriber was ended with, if it was.
func (s *subscriber) reason() (ErrCode, bool) {
	select {
	case <-s.done:
		return s.code, true
	default:
		return 0, false
	}
}

// add registers sub, or returns false once the topic is closed.
func (t *topic) add(sub *subscriber) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.subs[sub] = struct{}{}
	return true
}

func (t *topic) remove(sub *subscriber) {
	t.mu.Lock()
	delete(t.subs, sub)
	t.mu.Unlock()
}

func (t *topic) empty() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.subs) == 0
}

// publish queues q for every subscriber without blocking and drops, with
// ErrCodeSlowSubscriber, each one whose queue is full. It returns how many took q.
func (t *topic) publish(q queued, m *metrics) int {
	var slow []*subscriber
	sent := 0
	t.mu.RLock()
	for sub := range t.subs {
		select {
		case sub.queue <- q:
			sent++
		default:
			slow = append(slow, sub)
		}
	}
	t.mu.RUnlock()
	for _, sub := range slow {
		t.remove(sub)
		sub.end(ErrCodeSlowSubscriber)
		m.droppedSubscribers.WithLabelValues(ErrCodeSlowSubscriber.String()).Inc()
	}
	return sent
}

// endAll ends every subscriber with code and closes the topic to new ones.
func (t *topic) endAll(code ErrCode, m *metrics) {
	t.mu.Lock()
	t.closed = true
	subs := t.subs
	t.subs = make(map[*subscriber]struct{})
	t.mu.Unlock()
	for sub := range subs {
		sub.end(code)
		m.droppedSubscribers.WithLabelValues(code.label()).Inc()
	}
}

// tracker counts operations in flight so that a shutdown can wait for them.
type tracker struct {
	mu      sync.Mutex
	n       int
	closing bool
	idle    chan struct{} // closed when n reaches zero after closing
}

// enter counts one more operation, or returns false once the tracker is closing.
func (t *tracker) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return false
	}
	t.n++
	return true
}

func (t *tracker) leave() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 && t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
}

// drain refuses new operations and returns a channel closed when none is left in flight.
func (t *tracker) drain() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closing = true
	if t.n == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	if t.idle == nil {
		t.idle = make(chan struct{})
	}
	return t.idle
}
