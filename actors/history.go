package actors

import (
	"bytes"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// memo is a message as a grain remembers it: only what the context builder, scoring, the AI and
// the contact-hours rule read. A full jack.Message is several hundred bytes before its text;
// keeping fifty of them per conversation would make an active conversation three times the
// size it needs to be.
type memo struct {
	id      uuid.UUID
	at      int64 // unix microseconds
	content string
	flags   uint8
}

const (
	memoCustomer uint8 = 1 << iota // sent by the customer (else the dealership)
	memoVoice                      // a voice turn (else a text)
)

func memoOf(m *jack.Message) memo {
	var flags uint8
	if m.SentBy == jack.SentByCustomer {
		flags |= memoCustomer
	}
	if m.Type == jack.ChannelVoice {
		flags |= memoVoice
	}
	return memo{id: m.ID, at: m.Timestamp.UnixMicro(), content: m.Content, flags: flags}
}

func (m memo) customer() bool  { return m.flags&memoCustomer != 0 }
func (m memo) time() time.Time { return time.UnixMicro(m.at).UTC() }

// compare orders memos as the Store orders a timeline: by time, then id.
func (m memo) compare(o memo) int {
	if m.at != o.at {
		if m.at < o.at {
			return -1
		}
		return 1
	}
	return bytes.Compare(m.id[:], o.id[:])
}

// history is a conversation's recent messages, oldest first, at most size of them.
type history struct {
	memos []memo
	size  int
}

func newHistory(size int, msgs []*jack.Message) history {
	h := history{size: size, memos: make([]memo, 0, min(len(msgs), size))}
	for _, m := range msgs {
		h.add(m)
	}
	return h
}

// add puts m in its timeline place (a call's turns arrive after the call, stamped with when
// they were said) and forgets the oldest beyond the size.
func (h *history) add(m *jack.Message) {
	mm := memoOf(m)
	i, _ := slices.BinarySearchFunc(h.memos, mm, memo.compare)
	h.memos = slices.Insert(h.memos, i, mm)
	if n := len(h.memos) - h.size; n > 0 {
		h.memos = slices.Delete(h.memos, 0, n)
	}
}

// replace updates the remembered text of a message (it changes only for a send's outcome,
// which memory does not keep, so this is cheap insurance).
func (h *history) replace(m *jack.Message) {
	for i := range h.memos {
		if h.memos[i].id == m.ID {
			h.memos[i] = memoOf(m)
		}
	}
}

func (h *history) len() int { return len(h.memos) }

// last returns the n most recent messages as domain messages of the conversation, oldest first.
func (h *history) last(n int, orgID uuid.UUID, leadID, phone string) []*jack.Message {
	memos := h.memos[max(0, len(h.memos)-n):]
	out := make([]*jack.Message, len(memos))
	for i, m := range memos {
		msg := &jack.Message{ID: m.id, OrganizationID: orgID, LeadID: leadID, PhoneNumberNormalized: phone,
			Content: m.content, SentBy: jack.SentByAgent, Type: jack.ChannelSMS, Timestamp: m.time()}
		if m.customer() {
			msg.SentBy = jack.SentByCustomer
		}
		if m.flags&memoVoice != 0 {
			msg.Type = jack.ChannelVoice
		}
		out[i] = msg
	}
	return out
}
