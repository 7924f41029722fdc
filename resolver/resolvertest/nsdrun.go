package resolvertest

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// StartNSD serves the network's zones with real NSD processes, one per
// server address (NSD serves every zone it loads on every address it binds,
// so one instance per address keeps lame servers lame), on port; port 0
// picks one free on every address. It returns the port once every instance
// answers for its zones, and stops them when the test ends. It skips the
// test when nsd is not installed, unless the environment variable
// HUSH_INTEGRATION is "require" (as CI sets it), where that is a failure.
func (n *Network) StartNSD(t TB, port uint16) uint16 {
	t.Helper()
	requireNSD(t)
	dir := t.TempDir()
	if err := n.WriteZoneFiles(dir); err != nil {
		t.Fatal(err)
	}
	return n.StartNSDFromDir(t, port, dir)
}

// StartNSDFromDir is StartNSD serving the zone files already in dir, named
// by ZoneFileName (zones signed by another tool, say), instead of the
// network's own; NSD's configuration, pid and log files go into dir too.
// Port 0 picks one free on every address.
func (n *Network) StartNSDFromDir(t TB, port uint16, dir string) uint16 {
	t.Helper()
	bin := requireNSD(t)
	if port == 0 {
		srv, err := n.Serve(context.Background(), 0)
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		port = srv.Port()
		srv.Close()
	}
	var (
		cmds  []*exec.Cmd
		addrs []netip.Addr
		waits []chan struct{} // closed when the process has exited
	)
	t.Cleanup(func() {
		// NSD takes a while to exit: stop all of them at once.
		for _, cmd := range cmds {
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
		for _, w := range waits {
			<-w
		}
	})
	for addr := range n.Servers() {
		conf, err := n.NSDConf(addr, port, dir)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, "nsd-"+addr.String()+".conf")
		if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-d", "-c", file)
		if err := cmd.Start(); err != nil {
			t.Fatalf("start nsd for %s: %v", addr, err)
		}
		cmds, addrs = append(cmds, cmd), append(addrs, addr)
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		waits = append(waits, exited)
	}
	// NSD gives no signal when it has loaded its zones: poll, for a long
	// time on a busy machine.
	c := &dns.Client{Net: "udp", Timeout: 500 * time.Millisecond}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(2 * time.Minute)
	for addr, origins := range n.Servers() {
		for i, w := range waits {
			select {
			case <-w:
				log, _ := os.ReadFile(filepath.Join(dir, "nsd-"+addrs[i].String()+".log"))
				t.Fatalf("nsd for %s exited at start: is port %d taken?\n%s", addrs[i], port, log)
			default:
			}
		}
		target := netip.AddrPortFrom(addr, port).String()
		q := new(dns.Msg)
		q.SetQuestion(origins[0], dns.TypeSOA)
		for {
			r, _, err := c.Exchange(q.Copy(), target)
			if err == nil && r.Rcode == dns.RcodeSuccess && r.Authoritative {
				break
			}
			if err == nil {
				err = fmt.Errorf("rcode %s aa=%v", dns.RcodeToString[r.Rcode], r.Authoritative)
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(dir, "nsd-"+addr.String()+".log"))
				t.Fatalf("nsd on %s never answered for %s: %v\n%s", target, origins[0], err, log)
			}
			<-tick.C
		}
	}
	return port
}

// requireNSD returns the path of nsd. When it is not installed it skips the
// test, unless the environment variable HUSH_INTEGRATION is "require" (as
// CI sets it), where a skip would hide a failure and it fails instead.
func requireNSD(t TB) string {
	t.Helper()
	bin, err := exec.LookPath("nsd")
	if err != nil {
		if os.Getenv("HUSH_INTEGRATION") == "require" {
			t.Fatalf("nsd not installed and HUSH_INTEGRATION=require")
		}
		t.Skip("nsd not installed")
	}
	return bin
}
