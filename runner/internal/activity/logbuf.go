package activity

import (
	"fmt"
	"sync"
)

// DefaultLogLimit bounds an attempt log: a chatty process cannot fill the runner's database.
const DefaultLogLimit = 64 << 10

// LogBuffer is a bounded, concurrency-safe attempt log. It keeps the first half of its limit and
// the most recent half, and says how much it dropped in between: the start shows what ran, the
// end shows how it failed.
type LogBuffer struct {
	mu      sync.Mutex
	limit   int
	head    []byte
	tail    []byte // ring of the most recent bytes once head is full
	dropped int64
}

// NewLogBuffer returns a LogBuffer that keeps at most limit bytes (DefaultLogLimit when limit <= 0).
func NewLogBuffer(limit int) *LogBuffer {
	if limit <= 0 {
		limit = DefaultLogLimit
	}
	return &LogBuffer{limit: limit}
}

// Write implements io.Writer; it never fails.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	half := b.limit / 2
	if room := half - len(b.head); room > 0 {
		k := min(room, len(p))
		b.head = append(b.head, p[:k]...)
		p = p[k:]
	}
	if len(p) == 0 {
		return n, nil
	}
	tailMax := b.limit - half
	b.tail = append(b.tail, p...)
	if over := len(b.tail) - tailMax; over > 0 {
		b.dropped += int64(over)
		b.tail = append(b.tail[:0], b.tail[over:]...)
	}
	return n, nil
}

// String returns the kept log, with a marker where bytes were dropped.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped == 0 {
		return string(b.head) + string(b.tail)
	}
	return string(b.head) + fmt.Sprintf("\n… %d bytes dropped …\n", b.dropped) + string(b.tail)
}
