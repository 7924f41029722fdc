//go:build litemetrics

package metrics

func newRegistry() registry { return newLiteRegistry() }
