package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// starter is what Run tells a Progress writer besides the finished lines: that a scenario
// starts, its place in the run and its name.
type starter interface {
	Start(i, n int, name string)
}

// Progress is an Options.Progress that writes each finished scenario's line to its line
// writer and, when given a bar writer (a terminal), keeps a one-line bar there: scenarios done
// of the run, the one running and how long it has run, redrawn every barTick. Without a bar it
// writes exactly the plain lines. Close stops the redrawing and clears the bar.
type Progress struct {
	lines, bar io.Writer

	mu      sync.Mutex
	i, n    int
	name    string
	started time.Time // the running scenario's
	begun   time.Time // the run's
	drawn   bool
	stop    chan struct{}
	done    chan struct{}
}

const barTick = 200 * time.Millisecond

// NewProgress writes finished lines to lines and, if bar is not nil, the bar to bar.
func NewProgress(lines, bar io.Writer) *Progress {
	return &Progress{lines: lines, bar: bar}
}

// Write writes a finished line, lifting the bar off the terminal while it does: lines and bar
// often share one.
func (p *Progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	n, err := p.lines.Write(b)
	p.draw()
	return n, err
}

// Start is called by Run as scenario i of n begins.
func (p *Progress) Start(i, n int, name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.begun.IsZero() {
		p.begun = now
	}
	p.i, p.n, p.name, p.started = i, n, name, now
	if p.bar == nil {
		return
	}
	if p.stop == nil {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		// Its own copies: Close clears the fields before it signals.
		go p.tick(p.stop, p.done)
	}
	p.draw()
}

func (p *Progress) tick(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(barTick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.draw()
			p.mu.Unlock()
		}
	}
}

// Close stops the bar's redrawing and clears it.
func (p *Progress) Close() {
	p.mu.Lock()
	stop, done := p.stop, p.done
	p.stop, p.done = nil, nil
	p.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	p.mu.Lock()
	p.clear()
	p.mu.Unlock()
}

// barLine is the bar's text: done/total as a bar of barWidth cells, the count, the running
// scenario and its time, the run's time.
func (p *Progress) barLine(now time.Time) string {
	const barWidth = 24
	fill := 0
	if p.n > 0 {
		fill = (p.i - 1) * barWidth / p.n
	}
	return fmt.Sprintf("[%s%s] %d/%d %s %s (run %s)", strings.Repeat("#", fill), strings.Repeat(".", barWidth-fill),
		p.i, p.n, p.name, now.Sub(p.started).Truncate(100*time.Millisecond), now.Sub(p.begun).Truncate(time.Second))
}

func (p *Progress) draw() {
	if p.bar == nil || p.n == 0 {
		return
	}
	// Carriage return and erase-line: the bar overwrites itself on one line.
	fmt.Fprintf(p.bar, "\r\033[K%s", p.barLine(time.Now()))
	p.drawn = true
}

func (p *Progress) clear() {
	if p.drawn {
		fmt.Fprint(p.bar, "\r\033[K")
		p.drawn = false
	}
}
