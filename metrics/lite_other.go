//go:build !unix

package metrics

func (r *liteRegistry) processFamilies() {}
