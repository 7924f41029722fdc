package upstream

// ResetConnections (see Pool.ResetConnections) drops the open connection
// of each kind of upstream, for a machine that moved to another network:
// a connection opened on the old one would only be found dead by the next
// query. Queries in flight on a DoT connection fail with ErrConnLost and
// go once more on a new one; DoQ and DoH queries in flight finish or fail
// on their own. Resumable TLS sessions are kept: the server is the same.

// ResetConnections implements Pool's optional interface.
func (u *dot) ResetConnections() {
	u.mu.Lock()
	c := u.conn
	u.conn = nil
	u.mu.Unlock()
	if c != nil {
		c.fail(ErrConnLost)
	}
}
