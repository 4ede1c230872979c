package keys

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress draws a one-line bar redrawn in place, at most ten times a second, when its writer is a
// terminal; otherwise it does nothing (the caller logs a line instead).
type progress struct {
	mu    sync.Mutex
	w     io.Writer // nil: no bar
	label string
	total int
	n     int
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer, label string, total int) *progress {
	p := &progress{label: label, total: total, start: time.Now()}
	if w != nil && isTerminal(w) {
		p.w = w
		p.draw()
	}
	return p
}

func (p *progress) step() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	if p.w != nil && (p.n == p.total || time.Since(p.last) >= 100*time.Millisecond) {
		p.draw()
	}
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w != nil {
		p.draw()
		fmt.Fprintln(p.w)
	}
}

func (p *progress) draw() {
	const width = 30
	filled := 0
	if p.total > 0 {
		filled = width * p.n / p.total
	}
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	fmt.Fprintf(p.w, "\r%s [%s] %d/%d %s", p.label, bar, p.n, p.total, time.Since(p.start).Round(100*time.Millisecond))
	p.last = time.Now()
}

// isTerminal reports whether w is a terminal, where a redrawn progress bar makes sense.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
