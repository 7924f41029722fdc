package main

import (
	"fmt"
	"strings"

	"github.com/hush-dns/hush/filter"
)

// opsConfig holds the settings for operating hush (issue 14): metrics,
// the control socket, filtering and local data, CHAOS identity, logging.
type opsConfig struct {
	// MetricsListen is where the Prometheus exposition and /healthz are
	// served; nil means nowhere.
	MetricsListen *metricsURL
	// ControlSocket is the path of hush ctl's Unix socket; empty means
	// none.
	ControlSocket string
	// Blocklists, RPZ and Hosts are files; LocalData are records.
	Blocklists, RPZ, Hosts, LocalData []string
	// BlockMode and BlockEDE say how blocked names are answered.
	BlockMode filter.Mode
	BlockEDE  uint16
	// Identity answers id.server and hostname.bind (CH TXT), Version
	// answers version.bind and version.server, NSID is sent to clients
	// that ask for it (RFC 5001); empty means REFUSED and no NSID.
	Identity, Version, NSID string
	// LogLevel is the least severe kind of line hush prints.
	LogLevel logLevel

	// file is the config file (empty without --config) and load re-reads
	// it and re-applies the command line's flags, for reloads; both set
	// by hush serve's command.
	file string
	load func() (serveConfig, error)
}

// filterConfig is the filter.Config of o.
func (o opsConfig) filterConfig() filter.Config {
	return filter.Config{
		Blocklists: o.Blocklists, RPZ: o.RPZ, Hosts: o.Hosts, LocalData: o.LocalData,
		Options: filter.Options{Mode: o.BlockMode, EDE: o.BlockEDE},
	}
}

// chaos is the transport's CHAOS table: id.server and hostname.bind
// answer the identity (RFC 4892), version.bind and version.server the
// version string; nil when neither is set.
func (o opsConfig) chaos() map[string]string {
	m := make(map[string]string)
	if o.Identity != "" {
		m["id.server."], m["hostname.bind."] = o.Identity, o.Identity
	}
	if o.Version != "" {
		m["version.bind."], m["version.server."] = o.Version, o.Version
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// logLevel orders what hush prints to stderr. No level names a query, an
// answer or a client: debug adds counts and classes, not names.
type logLevel int

const (
	logError logLevel = iota
	logWarn
	logInfo
	logDebug
)

var logLevelNames = []string{"error", "warn", "info", "debug"}

func (l logLevel) String() string { return logLevelNames[l] }

func parseLogLevel(s string) (logLevel, error) {
	for i, n := range logLevelNames {
		if strings.EqualFold(s, n) {
			return logLevel(i), nil
		}
	}
	return 0, fmt.Errorf("want error, warn, info or debug")
}

// opsSettings are the settings of opsConfig, in the order --help lists
// them after the resolver's own.
func opsSettings() []setting {
	return []setting{
		opsSetting("metrics-listen", scalarSetting, "URL", "off",
			"serve Prometheus metrics at http://ADDR:PORT/PATH (default path /metrics) and a health check at /healthz, on a listener of their own; no metric names a query or a client",
			applyMetricsListen),
		opsSetting("control-socket", scalarSetting, "PATH", "off",
			"Unix socket (mode 0600) for hush ctl; the packages use "+defaultControlSocket,
			applyControlSocket),
		opsSetting("blocklist", listSetting, "FILE", "",
			"list of names to block, with the names below them, repeatable: hosts-file lines (0.0.0.0 name), one domain per line, or AdBlock rules (||name^, @@||name^ to allow); reread on reload",
			applyFiles(func(o *opsConfig) *[]string { return &o.Blocklists })),
		opsSetting("rpz", listSetting, "FILE", "",
			"Response Policy Zone file, repeatable: QNAME triggers with NXDOMAIN (CNAME .), NODATA (CNAME *.), passthru (CNAME rpz-passthru.) and local data; reread on reload",
			applyFiles(func(o *opsConfig) *[]string { return &o.RPZ })),
		opsSetting("hosts", listSetting, "FILE", "",
			"hosts file (ADDRESS NAME...) to answer A, AAAA and PTR from, authoritatively, repeatable; /etc/hosts on a laptop",
			applyFiles(func(o *opsConfig) *[]string { return &o.Hosts })),
		opsSetting("local-data", listSetting, "RECORD", "",
			"record to answer authoritatively, in zone-file form ('printer.home.arpa. 300 IN A 192.168.1.9'), repeatable; beats blocklists and the built-in local zones",
			applyLocalData),
		opsSetting("block-answer", scalarSetting, "MODE", "nxdomain",
			"answer to blocked names: nxdomain, nodata, or null (0.0.0.0 and ::)",
			applyBlockAnswer),
		opsSetting("block-ede", scalarSetting, "CODE", "blocked",
			"Extended DNS Error sent with blocked answers: blocked (15, the operator's choice) or filtered (17, the client's)",
			applyBlockEDE),
		opsSetting("identity", scalarSetting, "TEXT", "",
			"answer to id.server and hostname.bind CH TXT (RFC 4892); without it those are REFUSED",
			applyText(func(o *opsConfig) *string { return &o.Identity })),
		opsSetting("version-string", scalarSetting, "TEXT", "",
			"answer to version.bind and version.server CH TXT; without it those are REFUSED",
			applyText(func(o *opsConfig) *string { return &o.Version })),
		opsSetting("nsid", scalarSetting, "TEXT", "",
			"Name Server Identifier sent to clients that ask for it (RFC 5001); without it none is sent",
			applyText(func(o *opsConfig) *string { return &o.NSID })),
		opsSetting("log-level", scalarSetting, "LEVEL", "info",
			"least severe lines printed: error, warn, info or debug (none names a query or a client)",
			applyLogLevel),
	}
}

// defaultControlSocket is the control socket path of the packages
// (systemd's RuntimeDirectory=hush, OpenWRT's /var/run is /run).
const defaultControlSocket = "/run/hush/control.sock"

func applyMetricsListen(c *serveConfig, key string, r rawValue) error {
	v := r.vals[0]
	if v == "" || v == "off" {
		c.Ops.MetricsListen = nil
		return nil
	}
	u, err := parseMetricsURL(v)
	if err != nil {
		return r.errorf(key, 0, "%v", err)
	}
	c.Ops.MetricsListen = &u
	return nil
}

func applyControlSocket(c *serveConfig, key string, r rawValue) error {
	v := r.vals[0]
	if v == "" || v == "off" {
		c.Ops.ControlSocket = ""
		return nil
	}
	c.Ops.ControlSocket = r.path(v)
	return nil
}

// applyFiles sets a list of files, each of which must be readable now;
// what they hold is read when the policy is built (at start and on every
// reload), so that a bad file is reported in one line by either.
func applyFiles(field func(*opsConfig) *[]string) func(*serveConfig, string, rawValue) error {
	return func(c *serveConfig, key string, r rawValue) error {
		var files []string
		for i, v := range r.vals {
			if v == "" {
				continue
			}
			p := r.path(v)
			if err := checkReadable(p); err != nil {
				return r.errorf(key, i, "%v", err)
			}
			files = append(files, p)
		}
		*field(&c.Ops) = files
		return nil
	}
}

func applyLocalData(c *serveConfig, key string, r rawValue) error {
	var recs []string
	b := filter.NewBuilder()
	for i, v := range r.vals {
		if strings.TrimSpace(v) == "" {
			continue
		}
		if err := b.AddLocalData(v); err != nil {
			return r.errorf(key, i, "%v", strings.TrimPrefix(err.Error(), "filter: "))
		}
		recs = append(recs, v)
	}
	c.Ops.LocalData = recs
	return nil
}

func applyBlockAnswer(c *serveConfig, key string, r rawValue) error {
	m, err := filter.ParseMode(r.vals[0])
	if err != nil {
		return r.errorf(key, 0, "want nxdomain, nodata or null")
	}
	c.Ops.BlockMode = m
	return nil
}

func applyBlockEDE(c *serveConfig, key string, r rawValue) error {
	e, err := filter.ParseEDE(r.vals[0])
	if err != nil {
		return r.errorf(key, 0, "want blocked or filtered")
	}
	c.Ops.BlockEDE = e
	return nil
}

// applyText sets a string that goes into a TXT record or an EDNS option:
// at most 255 octets of printable ASCII.
func applyText(field func(*opsConfig) *string) func(*serveConfig, string, rawValue) error {
	return func(c *serveConfig, key string, r rawValue) error {
		v := r.vals[0]
		if len(v) > 255 {
			return r.errorf(key, 0, "longer than 255 octets")
		}
		for _, ch := range []byte(v) {
			if ch < 0x20 || ch > 0x7e {
				return r.errorf(key, 0, "printable ASCII only")
			}
		}
		*field(&c.Ops) = v
		return nil
	}
}

func applyLogLevel(c *serveConfig, key string, r rawValue) error {
	l, err := parseLogLevel(r.vals[0])
	if err != nil {
		return r.errorf(key, 0, "%v", err)
	}
	c.Ops.LogLevel = l
	return nil
}

// opsSetting builds a settings-table row.
func opsSetting(name string, kind settingKind, typ, def, usage string, apply func(*serveConfig, string, rawValue) error) setting {
	return setting{name: name, kind: kind, typ: typ, def: def, usage: usage, apply: apply}
}
