package main

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"

	"github.com/hush-dns/hush/metrics"
	"github.com/hush-dns/hush/transport"
)

// dnsListeners are the dns:// listeners a reload may add or remove: each
// configured URL has its own UDP and TCP servers, so one can stop without
// touching the others. Encrypted listeners share their servers and a
// certificate, and wait for a restart.
type dnsListeners struct {
	ctx   context.Context
	run   func(serve func() error)
	with  func(metrics.Transport) transport.Config
	infof func(format string, args ...any)

	// mu guards byURL and closed.
	mu     sync.Mutex
	byURL  map[listenURL]*dnsListener
	closed bool
}

// dnsListener is one dns:// URL's servers and sockets.
type dnsListener struct {
	udp   *transport.UDPServer
	tcp   *transport.TCPServer
	group []net.PacketConn
	ln    net.Listener
}

// start serves the sockets of one dns:// URL.
func (d *dnsListeners) start(u listenURL, group []net.PacketConn, ln net.Listener) *dnsListener {
	l := &dnsListener{
		udp:   transport.NewUDPServer(d.with(metrics.UDP)),
		tcp:   transport.NewTCPServer(d.with(metrics.TCP)),
		group: group, ln: ln,
	}
	for _, pc := range group {
		d.run(func() error { return l.udp.Serve(pc) })
	}
	d.run(func() error { return l.tcp.Serve(ln) })
	d.byURL[u] = l
	d.infof("hush: serving dns://%s (UDP and TCP)", ln.Addr())
	return l
}

// SetAllowClients gives every dns:// listener the client ACL.
func (d *dnsListeners) SetAllowClients(acl []netip.Prefix) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range d.byURL {
		l.udp.SetAllowClients(acl)
		l.tcp.SetAllowClients(acl)
	}
}

// apply makes the dns:// listeners those of want: new URLs are opened and
// served (with acl), URLs no longer wanted stop accepting and close once
// the queries in flight are answered (within shutdownGrace). It returns
// what it added and removed; on an error (a port taken) nothing was
// changed.
func (d *dnsListeners) apply(want []listenURL, acl []netip.Prefix) (added, removed []string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, nil, errors.New("shutting down")
	}
	wanted := make(map[listenURL]bool)
	type opened struct {
		u     listenURL
		group []net.PacketConn
		ln    net.Listener
	}
	var open []opened
	for _, u := range want {
		if u.Scheme != "dns" || wanted[u] {
			continue
		}
		wanted[u] = true
		if d.byURL[u] != nil {
			continue
		}
		udpNet, tcpNet := listenNets(u, want)
		group, ln, err := listenDNS(d.ctx, udpNet, tcpNet, u.Addr)
		if err != nil {
			for _, o := range open {
				closeSockets(o.group, o.ln)
			}
			return nil, nil, listenError(u, err)
		}
		open = append(open, opened{u, group, ln})
	}
	for _, o := range open {
		l := d.start(o.u, o.group, o.ln)
		l.udp.SetAllowClients(acl)
		l.tcp.SetAllowClients(acl)
		added = append(added, o.u.String())
	}
	for u, l := range d.byURL {
		if wanted[u] {
			continue
		}
		delete(d.byURL, u)
		removed = append(removed, u.String())
		go func() {
			sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			_ = l.udp.Shutdown(sctx)
			_ = l.tcp.Shutdown(sctx)
			closeSockets(l.group, l.ln)
		}()
	}
	return added, removed, nil
}

// shutdown stops every dns:// listener, letting queries in flight finish
// until ctx is done, and returns the errors.
func (d *dnsListeners) shutdown(ctx context.Context) []error {
	d.mu.Lock()
	d.closed = true
	ls := make([]*dnsListener, 0, len(d.byURL))
	for _, l := range d.byURL {
		ls = append(ls, l)
	}
	d.mu.Unlock()
	var errs []error
	for _, l := range ls {
		for _, s := range []shutdowner{l.udp, l.tcp} {
			if err := s.Shutdown(ctx); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

func closeSockets(group []net.PacketConn, ln net.Listener) {
	for _, pc := range group {
		pc.Close()
	}
	ln.Close()
}
