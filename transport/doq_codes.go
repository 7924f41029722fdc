package transport

// ALPNDoQ is the ALPN protocol ID of DNS over QUIC (RFC 9250 §4.1).
const ALPNDoQ = "doq"

// DoQ error codes (RFC 9250 §4.3), used both as QUIC application error
// codes when a connection is closed and as stream error codes when one
// stream is reset. They are untyped so that they fit both quic-go types.
const (
	// DoQNoError: no error; the code a connection is closed with when
	// the server shuts down or the client has gone idle.
	DoQNoError = 0x0
	// DoQInternalError: the server could not produce an answer.
	DoQInternalError = 0x1
	// DoQProtocolError: the peer broke RFC 9250 (§4.3.3); the connection
	// is closed with it.
	DoQProtocolError = 0x2
	// DoQRequestCancelled: the client cancelled its query (§4.3.1).
	DoQRequestCancelled = 0x3
	// DoQExcessiveLoad: a connection is closed because the server has
	// Config.MaxConns of them already.
	DoQExcessiveLoad = 0x4
	// DoQUnspecifiedError: an error with no better code.
	DoQUnspecifiedError = 0x5
)
