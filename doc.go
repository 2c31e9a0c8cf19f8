// Package jack is the domain of the conversation engine: organizations, leads, conversations,
// messages, calls, follow-ups and events, the rules that need no I/O (phone numbers, quiet
// hours, scores), the error codes every layer answers with, and the interfaces the layers meet
// at: Store and Broker (implemented in persistence/), Conversations (implemented by actors/).
// It imports no other package of the module and no provider. ARCHITECTURE.md draws the layers.
package jack
