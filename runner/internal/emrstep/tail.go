package emrstep

import "sync"

// tailBuffer keeps the last bytes written to it: the end of a process's standard error is what
// says why it failed.
type tailBuffer struct {
	mu    sync.Mutex
	limit int
	buf   []byte
}

func newTail() *tailBuffer { return &tailBuffer{limit: stderrTail} }

// Write implements io.Writer; it never fails.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.limit; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// Len is the number of bytes kept.
func (b *tailBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.buf)
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
