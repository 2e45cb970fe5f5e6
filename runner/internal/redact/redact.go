// Package redact keeps secret values inside the runner: a registry of every secret the runner
// was configured with or fetched (connection passwords, the state database's password, Secrets
// Manager values, webhook tokens), and the means to scrub them from text at the places where text
// leaves the process — the logger (Handler), the command's output streams (Writer), errors
// (Error), and whatever the engine stores or sends (Scrub).
//
// Scrubbing is by value, not by parsing: a URI whose password holds '@', '/', '?', '#' or '%'
// is cut by URL parsers and database drivers at places its author did not mean, and their
// messages then quote the pieces (pgx splits user information at the first '@', so the part of
// the password after it becomes the "host" its connect error prints). So for every secret the
// registry also keeps the forms it can take in output: its percent-encoded and decoded forms,
// every run of the pieces between such delimiters, and each of those as JSON and Go quoting
// escape them. Forms shorter than MinLen are not kept: replacing every "ab" would garble every
// log line while hiding next to nothing.
package redact

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Mask replaces every secret form in scrubbed text (the same mask the URI redaction uses).
const Mask = "xxxxx"

// MinLen is the length under which a form of a secret is not scrubbed by value. A whole secret
// shorter than this is not scrubbed at all: TooShort reports it so the runner can warn.
const MinLen = 4

// cuts are the characters at which URI, query-string and keyword/value connection-string
// parsers split a value, and quoting escapes: a secret's pieces between them can appear alone.
const cuts = "@:/?#[]&=;+%, '\"\\\t\r\n"

// maxPieces bounds the runs of pieces kept per secret to O(pieces²); above it only the single
// pieces, the prefixes and the suffixes are kept.
const maxPieces = 24

// Scrubber is what the engine and the notifier need: text and errors in, the same without
// secrets out. *Secrets implements it.
type Scrubber interface {
	Scrub(text string) string
	Error(err error) error
}

// Secrets is the registry. The zero value is not usable: call New. It is safe for concurrent
// use; secrets added later (a Secrets Manager value fetched at first use) are scrubbed from
// everything written afterwards.
type Secrets struct {
	mu    sync.Mutex
	forms map[string]struct{}
	// rep replaces every form, longest first, in one pass; nil while there is none.
	rep atomic.Pointer[strings.Replacer]
}

// New returns an empty registry.
func New() *Secrets { return &Secrets{forms: map[string]struct{}{}} }

// TooShort reports whether a secret is too short to be scrubbed by value.
func TooShort(secret string) bool { return len(secret) < MinLen }

// Add registers secrets — passwords, tokens — and every form they can take in output,
// pieces included (see Forms). Empty values are ignored.
func (s *Secrets) Add(secrets ...string) { s.add(secrets, true) }

// AddWhole registers values that hold secrets but also ordinary words — a Secrets Manager
// value (a URI or RDS-style JSON), a webhook URL — in their whole, encoded and escaped forms
// only: their pieces ("postgres", "host") are not secret, and the secrets inside them are
// registered with Add.
func (s *Secrets) AddWhole(values ...string) { s.add(values, false) }

func (s *Secrets) add(values []string, pieces bool) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.forms)
	for _, v := range values {
		for _, f := range forms(v, pieces) {
			s.forms[f] = struct{}{}
		}
	}
	if len(s.forms) == n {
		return
	}
	all := make([]string, 0, len(s.forms))
	for f := range s.forms {
		all = append(all, f)
	}
	// strings.Replacer tries its patterns in argument order at each position: longest first,
	// so a form that contains another is replaced whole.
	slices.SortFunc(all, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	pairs := make([]string, 0, 2*len(all))
	for _, f := range all {
		pairs = append(pairs, f, Mask)
	}
	s.rep.Store(strings.NewReplacer(pairs...))
}

// Scrub returns text with every registered form replaced by Mask.
func (s *Secrets) Scrub(text string) string {
	if s == nil {
		return text
	}
	rep := s.rep.Load()
	if rep == nil || text == "" {
		return text
	}
	return rep.Replace(text)
}

// Error returns err unchanged when its message holds no secret, else an error with the
// scrubbed message that still unwraps to err, so errors.Is and errors.As keep working. (What
// errors.As finds is the original: print the wrapper, not what it wraps.)
func (s *Secrets) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := s.Scrub(msg)
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, err: err}
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// Writer returns a writer that scrubs what it passes on to w. Each Write is scrubbed on its
// own: callers that write a line per call (slog handlers, fmt.Fprintf, json.Encoder) are
// covered whole.
func (s *Secrets) Writer(w io.Writer) io.Writer { return &writer{s: s, w: w} }

type writer struct {
	s *Secrets
	w io.Writer
}

func (w *writer) Write(p []byte) (int, error) {
	if w.s.rep.Load() == nil {
		return w.w.Write(p) //nolint:wrapcheck // a pass-through writer reports its writer's error as is
	}
	if _, err := io.WriteString(w.w, w.s.Scrub(string(p))); err != nil {
		return 0, fmt.Errorf("writing scrubbed output: %w", err)
	}
	return len(p), nil
}

// Forms returns the forms of secret that scrubbing replaces: the secret, its decoded and
// percent-encoded forms, the runs of its pieces between URI delimiters (see package comment),
// and each of those as JSON and Go quoting escape them. Forms shorter than MinLen are left out.
func Forms(secret string) []string { return forms(secret, true) }

func forms(secret string, pieces bool) []string {
	if TooShort(secret) {
		return nil
	}
	set := map[string]struct{}{}
	add := func(f string) {
		if len(f) >= MinLen {
			set[f] = struct{}{}
		}
	}
	bases := []string{secret}
	if d, err := url.PathUnescape(secret); err == nil && d != secret {
		bases = append(bases, d)
	}
	if d, err := url.QueryUnescape(secret); err == nil && d != secret {
		bases = append(bases, d)
	}
	for _, b := range bases {
		rs := []string{b}
		if pieces {
			rs = runs(b)
		}
		for _, r := range rs {
			add(r)
			add(url.QueryEscape(r))
			add(url.PathEscape(r))
			add(userinfoEscape(r))
		}
	}
	plain := make([]string, 0, len(set))
	for f := range set {
		plain = append(plain, f)
	}
	for _, f := range plain {
		add(jsonEscape(f, true))
		add(jsonEscape(f, false))
		q := strconv.Quote(f)
		add(q[1 : len(q)-1])
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// runs returns v and every run of consecutive pieces of v between delimiters: the substrings a
// parser that cuts v at some of its delimiters can print.
func runs(v string) []string {
	// starts and ends of pieces: a piece starts at 0 or after a delimiter, ends at len(v) or at one.
	starts, ends := []int{0}, []int{}
	for i := 0; i < len(v); i++ {
		if strings.IndexByte(cuts, v[i]) >= 0 {
			ends = append(ends, i)
			starts = append(starts, i+1)
		}
	}
	ends = append(ends, len(v))
	out := []string{v}
	if len(starts) > maxPieces {
		for i := range starts {
			out = append(out, v[starts[i]:ends[i]], v[:ends[i]], v[starts[i]:])
		}
		return out
	}
	for i := range starts {
		for j := i; j < len(ends); j++ {
			if starts[i] <= ends[j] {
				out = append(out, v[starts[i]:ends[j]])
			}
		}
	}
	return out
}

// userinfoEscape is how net/url writes a password in a URI's user information.
func userinfoEscape(v string) string {
	s := url.UserPassword("u", v).String()
	return strings.TrimPrefix(s, "u:")
}

// jsonEscape is v as encoding/json writes it inside a string, with or without HTML escaping
// (slog's JSON handler and json.Encoder differ there).
func jsonEscape(v string, html bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	if err := enc.Encode(v); err != nil {
		return v
	}
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}
