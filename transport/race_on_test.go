//go:build race

package transport

// raceDetector is true in a -race build. quic-go's client races with
// itself when a stream opens in 0-RTT while the handshake installs the
// server's transport parameters (quic-go issue 4303), so the 0-RTT tests
// run without -race: make test runs them again in a plain build.
const raceDetector = true
