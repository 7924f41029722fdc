package cache

import (
	"encoding/binary"
	"errors"

	"github.com/miekg/dns"
)

// Errors of the wire walker. They never leave the package: SetMsg simply
// does not cache a message it cannot walk.
var (
	errShortMsg   = errors.New("cache: message too short")
	errLongMsg    = errors.New("cache: message longer than 65535 bytes")
	errBadName    = errors.New("cache: bad domain name")
	errShortRR    = errors.New("cache: resource record runs past the message")
	errShortQuest = errors.New("cache: question runs past the message")
)

const headerLen = 12

// ttlOffsets appends to dst the offset in msg of the TTL field of each
// resource record of the packed message msg, in message order, and returns
// the extended slice.
//
// The OPT pseudo-record is skipped: its "TTL" holds the extended RCODE, the
// EDNS version and the DO bit (RFC 6891 §6.1.3), which must never be
// decremented. ttlOffsets parses names only as far as needed to skip them
// (labels and compression pointers, which it does not follow) and does not
// look inside RDATA. It does not check that msg is a valid DNS message, only
// that every offset it returns has four bytes of msg behind it.
func ttlOffsets(dst []uint16, msg []byte) ([]uint16, error) {
	if len(msg) < headerLen {
		return dst, errShortMsg
	}
	if len(msg) > 0xffff {
		// Offsets are stored as uint16; no DNS message is longer.
		return dst, errLongMsg
	}
	qd := int(binary.BigEndian.Uint16(msg[4:]))
	rrs := int(binary.BigEndian.Uint16(msg[6:])) +
		int(binary.BigEndian.Uint16(msg[8:])) +
		int(binary.BigEndian.Uint16(msg[10:]))
	off := headerLen
	var err error
	for range qd {
		if off, err = skipName(msg, off); err != nil {
			return dst, err
		}
		off += 4 // QTYPE, QCLASS
		if off > len(msg) {
			return dst, errShortQuest
		}
	}
	for range rrs {
		if off, err = skipName(msg, off); err != nil {
			return dst, err
		}
		// TYPE(2) CLASS(2) TTL(4) RDLENGTH(2)
		if len(msg)-off < 10 {
			return dst, errShortRR
		}
		if binary.BigEndian.Uint16(msg[off:]) != dns.TypeOPT {
			dst = append(dst, uint16(off+4))
		}
		off += 10 + int(binary.BigEndian.Uint16(msg[off+8:]))
		if off > len(msg) {
			return dst, errShortRR
		}
	}
	return dst, nil
}

// skipName returns the offset just past the domain name starting at off.
// It does not follow compression pointers: a pointer ends the name as
// written here, whatever it points to.
func skipName(msg []byte, off int) (int, error) {
	for {
		if off >= len(msg) {
			return 0, errBadName
		}
		c := int(msg[off])
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				return off + 1, nil
			}
			off += 1 + c
		case 0xc0:
			if off+2 > len(msg) {
				return 0, errBadName
			}
			return off + 2, nil
		default:
			// 0x40 and 0x80: extended label types (RFC 6891 §5), which
			// no one uses and miekg/dns does not pack.
			return 0, errBadName
		}
	}
}
