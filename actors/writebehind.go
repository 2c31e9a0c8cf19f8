package actors

import (
	"context"
	"slices"

	"github.com/jack-auto/jack"
)

// Write-behind: a write the grain does not wait for. A call start is answered from memory and
// its call session is stored afterwards; meanwhile the mailbox goes on, so the next call start
// (or text) of the conversation is served while the session is being stored. Order is kept:
// write-behinds commit one at a time in the order they were made, and every ordinary write
// (inTx) first waits for those still queued (flushWrites), so the conversation's writes commit
// in the order the grain made them.
//
// A write-behind's fn runs on the Store's writer while the grain handles other messages, so it
// must read only what it captured, never the grain's fields.

// behindWrite is one write the grain does not wait for.
type behindWrite struct {
	fn   func(ctx context.Context, tx jack.ConversationTx) error
	then func(err error) // on the grain, once committed (or failed)
	done chan struct{}   // closed once err is set, when the write was started
	err  error
}

// writeDone tells the grain a write-behind finished.
type writeDone struct{ w *behindWrite }

// writeBehind queues fn to commit after the grain's earlier write-behinds; then runs on the
// grain with the outcome.
func (g *grain) writeBehind(fn func(ctx context.Context, tx jack.ConversationTx) error, then func(err error)) {
	g.writes = append(g.writes, &behindWrite{fn: fn, then: then})
	if !g.writing {
		g.startWrite()
	}
}

// startWrite hands the oldest queued write-behind to the Store on a goroutine of its own.
func (g *grain) startWrite() {
	w := g.writes[0]
	w.done = make(chan struct{})
	g.writing = true
	store, owner, self, root, base, timeout := g.e.store, g.owner, g.self, g.e.system.Root, g.e.ctx, g.e.cfg.StoreTimeout
	go func() {
		ctx, cancel := context.WithTimeout(base, timeout)
		defer cancel()
		w.err = store.InOwnedConversationTx(ctx, owner, func(tx jack.ConversationTx) error { return w.fn(ctx, tx) })
		close(w.done)
		root.Send(self, &writeDone{w: w})
	}()
}

// onWriteDone finishes the write-behind at the head of the queue and starts the next. A
// message about a write that flushWrites finished already is stale.
func (g *grain) onWriteDone(m *writeDone) {
	if len(g.writes) == 0 || g.writes[0] != m.w {
		return
	}
	g.finishWrite()
	if len(g.writes) > 0 {
		g.startWrite()
	}
}

func (g *grain) finishWrite() {
	w := g.writes[0]
	g.writes = g.writes[1:]
	g.writing = false
	g.afterWrite(w.err)
	w.then(w.err)
}

// dropQueuedWrites fails the write-behinds not yet started (the one with the Store finishes on
// its own): they were decided by an activation that no longer owns the conversation.
func (g *grain) dropQueuedWrites(err error) {
	first := 0
	if g.writing {
		first = 1
	}
	if len(g.writes) <= first {
		return
	}
	dropped := slices.Clone(g.writes[first:])
	g.writes = g.writes[:first]
	for _, w := range dropped {
		w.then(err)
	}
}

// flushWrites waits until every queued write-behind has committed: the one with the Store
// is waited for, the rest are committed here, in order.
func (g *grain) flushWrites() {
	for len(g.writes) > 0 {
		w := g.writes[0]
		if !g.writing {
			ctx, cancel := g.storeCtx()
			w.err = g.e.store.InOwnedConversationTx(ctx, g.owner, func(tx jack.ConversationTx) error { return w.fn(ctx, tx) })
			cancel()
		} else {
			<-w.done
		}
		g.finishWrite()
	}
}
