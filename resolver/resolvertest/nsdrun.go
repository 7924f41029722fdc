package resolvertest

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
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
func (n *Network) StartNSD(t testing.TB, port uint16) uint16 {
	t.Helper()
	bin, err := exec.LookPath("nsd")
	if err != nil {
		if os.Getenv("HUSH_INTEGRATION") == "require" {
			t.Fatalf("nsd not installed and HUSH_INTEGRATION=require")
		}
		t.Skip("nsd not installed")
	}
	if port == 0 {
		srv, err := n.Serve(context.Background(), 0)
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		port = srv.Port()
		srv.Close()
	}
	dir := t.TempDir()
	if err := n.WriteZoneFiles(dir); err != nil {
		t.Fatal(err)
	}
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
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		})
	}
	c := &dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}
	for addr, origins := range n.Servers() {
		target := netip.AddrPortFrom(addr, port).String()
		var lastErr error
		ready := false
		// Poll until NSD has loaded its zones: it gives no other signal.
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			q := new(dns.Msg)
			q.SetQuestion(origins[0], dns.TypeSOA)
			r, _, err := c.Exchange(q, target)
			if err == nil && r.Rcode == dns.RcodeSuccess && r.Authoritative {
				ready = true
				break
			}
			if err == nil {
				err = fmt.Errorf("rcode %s aa=%v", dns.RcodeToString[r.Rcode], r.Authoritative)
			}
			lastErr = err
		}
		if !ready {
			log, _ := os.ReadFile(filepath.Join(dir, "nsd-"+addr.String()+".log"))
			t.Fatalf("nsd on %s never answered for %s: %v\n%s", target, origins[0], lastErr, log)
		}
	}
	return port
}
