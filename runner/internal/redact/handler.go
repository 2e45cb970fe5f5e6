package redact

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
)

// Handler returns a slog.Handler that scrubs the message and every attribute of each record
// before next formats it: strings and errors are scrubbed; any other value whose text or JSON
// holds a secret is replaced by its scrubbed text. Scrubbing before formatting means the JSON
// escaping of the output cannot hide a secret from the scrubber. Attributes given to With are
// scrubbed at each record, not once, so that a secret registered after the logger was built (a
// Secrets Manager value) is scrubbed from them too.
func (s *Secrets) Handler(next slog.Handler) slog.Handler { return &handler{s: s, base: next} }

type handler struct {
	s    *Secrets
	base slog.Handler
	// ops are the With and WithGroup calls, in order, replayed on base at each record.
	ops []op
}

// op is one WithAttrs (attrs) or WithGroup (group) call.
type op struct {
	group string
	attrs []slog.Attr
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.base.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	next := h.base
	for _, o := range h.ops {
		if o.attrs == nil {
			next = next.WithGroup(o.group)
			continue
		}
		clean := make([]slog.Attr, len(o.attrs))
		for i, a := range o.attrs {
			clean[i] = h.s.attr(a)
		}
		next = next.WithAttrs(clean)
	}
	out := slog.NewRecord(r.Time, r.Level, h.s.Scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.s.attr(a))
		return true
	})
	return next.Handle(ctx, out) //nolint:wrapcheck // a handler passes its successor's error on as is
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	return &handler{s: h.s, base: h.base, ops: append(slices.Clip(h.ops), op{attrs: slices.Clone(as)})}
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &handler{s: h.s, base: h.base, ops: append(slices.Clip(h.ops), op{group: name})}
}

func (s *Secrets) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, s.Scrub(v.String()))
	case slog.KindGroup:
		g := v.Group()
		clean := make([]any, len(g))
		for i, ga := range g {
			clean[i] = s.attr(ga)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		x := v.Any()
		if err, ok := x.(error); ok {
			return slog.String(a.Key, s.Scrub(err.Error()))
		}
		text := fmt.Sprintf("%+v", x)
		if clean := s.Scrub(text); clean != text {
			return slog.String(a.Key, clean)
		}
		if b, err := json.Marshal(x); err == nil && s.Scrub(string(b)) != string(b) {
			return slog.String(a.Key, s.Scrub(text))
		}
		return slog.Attr{Key: a.Key, Value: v}
	default:
		return slog.Attr{Key: a.Key, Value: v}
	}
}
