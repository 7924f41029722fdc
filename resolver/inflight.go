package resolver

import (
	"context"
	"sync"
)

// flights coalesces identical work: while one caller computes the value for
// a key, others asking for the same key wait for that result instead of
// repeating the work. Unlike x/sync/singleflight, a waiter gives up when its
// own context ends, and the work is not cancelled by a waiter leaving.
type flights[K comparable, V any] struct {
	mu sync.Mutex // guards m
	m  map[K]*flight[V]
}

type flight[V any] struct {
	done chan struct{}
	val  V
	err  error
}

// do runs fn for key unless a call for key is already running, in which
// case it waits for that call's result or for ctx to end. shared reports
// whether the result came from another caller's work.
func (f *flights[K, V]) do(ctx context.Context, key K, fn func() (V, error)) (v V, shared bool, err error) {
	f.mu.Lock()
	if f.m == nil {
		f.m = make(map[K]*flight[V])
	}
	if fl, ok := f.m[key]; ok {
		f.mu.Unlock()
		select {
		case <-fl.done:
			return fl.val, true, fl.err
		case <-ctx.Done():
			return v, true, ctx.Err()
		}
	}
	fl := &flight[V]{done: make(chan struct{})}
	f.m[key] = fl
	f.mu.Unlock()

	defer func() {
		f.mu.Lock()
		delete(f.m, key)
		f.mu.Unlock()
		close(fl.done)
	}()
	fl.val, fl.err = fn()
	return fl.val, false, fl.err
}

// running reports whether a call for key is under way.
func (f *flights[K, V]) running(key K) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.m[key]
	return ok
}
