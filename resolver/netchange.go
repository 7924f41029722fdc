package resolver

// NetworkChanged is what the machine moving to another network (another
// Wi-Fi, a reconnected uplink) makes the resolver do: forget what it
// learnt about servers (FlushInfra), measured from the old network, and
// take new client cookies toward authorities, so that servers cannot tell
// it is the same machine on the new network by them (RFC 7873 §5.1 has
// the client cookie change with the client's address). The cache stays:
// answers do not depend on the network they came over.
func (r *Resolver) NetworkChanged() {
	r.FlushInfra()
	if r.guard != nil && r.guard.jar != nil {
		r.guard.jar.Rekey()
	}
}
