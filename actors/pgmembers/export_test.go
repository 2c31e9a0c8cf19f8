package pgmembers

// SetUnreachable makes every statement of p fail, as if its database could not be reached
// (a partition, or a pause as seen from the others).
func (p *Provider) SetUnreachable(v bool) { p.unreachable.Store(v) }
