package store

import (
	"math"
	"time"
)

// Bucket is a token bucket's stored state. Tokens are kept in thousandths so
// refills of a fraction of a token are not lost between calls; times are Unix
// milliseconds (named so), because a 30-per-minute bucket refills a token
// every 2 seconds.
type Bucket struct {
	MilliTokens    int64
	RefilledAtMs   int64
	BlockedUntilMs int64
}

// Take refills b up to now and takes n tokens if it has them. It returns the
// new state and the wait: zero when taken, else how long until n tokens are
// there (and the state is unchanged but for the refill).
func (b Bucket) Take(now time.Time, n int, rate Rate) (Bucket, time.Duration) {
	nowMs := now.UnixMilli()
	capacity := int64(rate.PerMinute) * 1000
	if b.RefilledAtMs == 0 { // a new bucket starts full
		b.MilliTokens, b.RefilledAtMs = capacity, nowMs
	}
	if nowMs < b.BlockedUntilMs {
		return b, time.Duration(b.BlockedUntilMs-nowMs) * time.Millisecond
	}
	if elapsed := nowMs - b.RefilledAtMs; elapsed > 0 {
		// PerMinute tokens per 60 000 ms: elapsed*PerMinute/60 milli-tokens.
		// The clock advances only by the time that became whole milli-tokens,
		// so frequent calls lose no fractions.
		added := elapsed * int64(rate.PerMinute) / 60
		b.MilliTokens += added
		b.RefilledAtMs += added * 60 / int64(rate.PerMinute)
		if b.MilliTokens >= capacity {
			b.MilliTokens, b.RefilledAtMs = capacity, nowMs
		}
	}
	need := int64(n) * 1000
	if b.MilliTokens >= need {
		b.MilliTokens -= need
		return b, 0
	}
	missing := need - b.MilliTokens
	waitMs := int64(math.Ceil(float64(missing) * 60 / float64(rate.PerMinute)))
	return b, time.Duration(waitMs) * time.Millisecond
}

// Block empties the bucket until t, when it holds one token: AlisQI's
// Retry-After says when the next call may go.
func (b Bucket) Block(t time.Time) Bucket {
	if ms := t.UnixMilli(); ms > b.BlockedUntilMs {
		b.BlockedUntilMs = ms
	}
	b.MilliTokens = 1000
	b.RefilledAtMs = max(b.RefilledAtMs, t.UnixMilli())
	return b
}

// Available returns the whole tokens the bucket holds at now, refilled.
func (b Bucket) Available(now time.Time, rate Rate) int {
	b, _ = b.Take(now, 0, rate)
	if now.UnixMilli() < b.BlockedUntilMs {
		return 0
	}
	return int(b.MilliTokens / 1000)
}
