package resolvertest

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// ZoneFileName is the file name WriteZoneFiles and NSDConf use for a
// zone: "root.zone" for the root, else the origin without its final dot
// followed by ".zone" (the names of the embedded files).
func ZoneFileName(origin string) string {
	origin = strings.ToLower(strings.TrimSuffix(origin, "."))
	if origin == "" {
		return "root.zone"
	}
	return origin + ".zone"
}

// WriteZoneFiles writes every zone's master file into dir, named by
// ZoneFileName, for a real authoritative server to load.
func (n *Network) WriteZoneFiles(dir string) error {
	for _, z := range n.zones {
		if err := os.WriteFile(filepath.Join(dir, ZoneFileName(z.origin)), []byte(z.text), 0o644); err != nil {
			return fmt.Errorf("resolvertest: write zone %s: %w", z.origin, err)
		}
	}
	return nil
}

// NSDConf returns an nsd.conf for one NSD instance that serves on addr,
// port exactly the zones the manifest gives addr, from files in dir
// written by WriteZoneFiles, with its pid, log and state files in dir too.
// Run one instance per address ("nsd -d -c FILE"): NSD serves every zone
// it loads on every address it binds, so sharing one instance would make
// lame servers answer. minimal-responses is on because the in-process
// engine follows it.
func (n *Network) NSDConf(addr netip.Addr, port uint16, dir string) (string, error) {
	s := n.servers[addr.Unmap()]
	if s == nil {
		return "", fmt.Errorf("resolvertest: nsd.conf: %s serves no zone", addr)
	}
	base := filepath.Join(dir, "nsd-"+addr.String())
	var b strings.Builder
	fmt.Fprintf(&b, `server:
	ip-address: %s@%d
	port: %d
	username: ""
	chroot: ""
	zonesdir: %q
	database: ""
	pidfile: %q
	xfrdfile: %q
	zonelistfile: %q
	logfile: %q
	server-count: 1
	verbosity: 0
	hide-version: yes
	minimal-responses: yes
	refuse-any: no
	ipv4-edns-size: %d
remote-control:
	control-enable: no
`, addr, port, port, dir, base+".pid", base+".xfrd", base+".zonelist", base+".log", ednsSize)
	for _, origin := range n.Servers()[addr.Unmap()] {
		fmt.Fprintf(&b, "zone:\n\tname: %q\n\tzonefile: %q\n", origin, ZoneFileName(origin))
	}
	return b.String(), nil
}
