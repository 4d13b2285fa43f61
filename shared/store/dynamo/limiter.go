package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/qbridge/qbridge/shared/store"
)

func bucketPK(name string) string { return "R#" + name }

// Take implements store.RateLimiter: read the bucket, refill and take in
// memory, write back under an optimistic lock on its version. A bucket that
// cannot give tokens is not written.
func (st *Store) Take(ctx context.Context, bucket string, tokens int, rate store.Rate) (time.Duration, error) {
	var wait time.Duration
	err := st.updateBucket(ctx, bucket, func(b store.Bucket) (store.Bucket, bool) {
		var nb store.Bucket
		nb, wait = b.Take(st.now(), tokens, rate)
		return nb, wait == 0
	})
	return wait, err
}

// Budget implements store.RateLimiter.
func (st *Store) Budget(ctx context.Context, bucket string, rate store.Rate) (int, time.Time, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.tables.State, Key: map[string]types.AttributeValue{"pk": s(bucketPK(bucket))},
		ConsistentRead: aws.Bool(true), ReturnConsumedCapacity: total,
	})
	if err != nil {
		return 0, time.Time{}, err
	}
	b := store.Bucket{MilliTokens: getN(out.Item, "mt"), RefilledAtMs: getN(out.Item, "ra"), BlockedUntilMs: getN(out.Item, "bu")}
	return b.Available(st.now(), rate), time.UnixMilli(b.BlockedUntilMs).UTC(), nil
}

// Block implements store.RateLimiter.
func (st *Store) Block(ctx context.Context, bucket string, until time.Time) error {
	return st.updateBucket(ctx, bucket, func(b store.Bucket) (store.Bucket, bool) { return b.Block(until), true })
}

func (st *Store) updateBucket(ctx context.Context, bucket string, change func(store.Bucket) (store.Bucket, bool)) error {
	pk := bucketPK(bucket)
	for attempt := 0; attempt < 50; attempt++ {
		out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: &st.tables.State, Key: map[string]types.AttributeValue{"pk": s(pk)},
			ConsistentRead: aws.Bool(true), ReturnConsumedCapacity: total,
		})
		if err != nil {
			return err
		}
		b := store.Bucket{MilliTokens: getN(out.Item, "mt"), RefilledAtMs: getN(out.Item, "ra"), BlockedUntilMs: getN(out.Item, "bu")}
		ver := getN(out.Item, "ver")
		nb, write := change(b)
		if !write {
			return nil
		}
		cond := "attribute_not_exists(pk) OR #ver = :ver"
		_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: &st.tables.State,
			Item: map[string]types.AttributeValue{
				"pk": s(pk), "mt": n(nb.MilliTokens), "ra": n(nb.RefilledAtMs), "bu": n(nb.BlockedUntilMs), "ver": n(ver + 1),
			},
			ConditionExpression:       &cond,
			ExpressionAttributeNames:  map[string]string{"#ver": "ver"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":ver": n(ver)},
			ReturnConsumedCapacity:    total,
		})
		if err == nil {
			return nil
		}
		if _, ok := isConditionFailed(err); !ok {
			return err
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
	return fmt.Errorf("rate bucket %s: too much contention", bucket)
}
