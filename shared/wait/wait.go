// Package wait sleeps the way retries must: for a while, or until the
// context ends, whichever comes first.
package wait

import (
	"context"
	"time"
)

// Sleep waits d, or returns ctx's error as soon as ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
