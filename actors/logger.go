package actors

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// libraryLogger returns the logger Proto.Actor writes to: ours, tagged, and only from Warn up,
// since the library logs routine lifecycle at Info and every retried request at Error. A
// message repeated about the same peer is written once a minute at most: after a node dies,
// the library reports it on every health poll and gossip round for as long as it stays in the
// seed list, which would otherwise drown everything else.
func libraryLogger(log *slog.Logger) *slog.Logger {
	h := minLevel{Handler: log.Handler(), min: slog.LevelWarn, repeats: &repeats{every: time.Minute, last: map[string]*repeat{}}}
	return slog.New(h).With("component", "protoactor")
}

type minLevel struct {
	slog.Handler
	min     slog.Level
	repeats *repeats
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) Handle(ctx context.Context, r slog.Record) error {
	suppressed, ok := h.repeats.allow(r)
	if !ok {
		return nil
	}
	if suppressed > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed_repeats", suppressed))
	}
	return h.Handler.Handle(ctx, r)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{Handler: h.Handler.WithAttrs(attrs), min: h.min, repeats: h.repeats}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{Handler: h.Handler.WithGroup(name), min: h.min, repeats: h.repeats}
}

// repeats remembers when each kind of record was last written. A kind is the message and the
// attributes that name what it is about (a peer's address), not the error text or retry count.
type repeats struct {
	every time.Duration

	mu   sync.Mutex
	last map[string]*repeat
}

type repeat struct {
	at         time.Time
	suppressed int
}

// allow reports whether r is written, and how many of its kind were dropped since the last one.
func (p *repeats) allow(r slog.Record) (suppressed int, ok bool) {
	var key strings.Builder
	key.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "error", "err", "retry":
		default:
			key.WriteString("\x00" + a.Key + "=" + a.Value.String())
		}
		return true
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	rep := p.last[key.String()]
	if rep != nil && r.Time.Sub(rep.at) < p.every {
		rep.suppressed++
		return 0, false
	}
	if len(p.last) >= 1000 { // bounded: peers come and go
		clear(p.last)
	}
	n := 0
	if rep != nil {
		n = rep.suppressed
	}
	p.last[key.String()] = &repeat{at: r.Time}
	return n, true
}
