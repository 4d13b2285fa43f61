package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/qbridge/qbridge/shared/store"
)

func idemPK(key string) string { return "I#" + key }

// Begin implements store.Idempotency: a conditional put that succeeds when
// the record is absent, expired, or in progress with an expired lease.
// Expiry is checked here, not left to TTL, which deletes up to days late.
func (st *Store) Begin(ctx context.Context, key string, lease, expiry time.Duration) (store.Begun, error) {
	pk := idemPK(key)
	for attempt := 0; ; attempt++ {
		now := st.now().Unix()
		leaseUntil := now + seconds(lease)
		cond := "attribute_not_exists(pk) OR #exp <= :now OR (#st = :inprogress AND #lease <= :now)"
		_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: &st.tables.State,
			Item: map[string]types.AttributeValue{
				"pk": s(pk), "st": n(int64(store.InProgress)), "lease": n(leaseUntil), "exp": n(now + seconds(expiry)),
			},
			ConditionExpression:                 &cond,
			ExpressionAttributeNames:            map[string]string{"#exp": "exp", "#st": "st", "#lease": "lease"},
			ExpressionAttributeValues:           map[string]types.AttributeValue{":now": n(now), ":inprogress": n(int64(store.InProgress))},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			ReturnConsumedCapacity:              total,
		})
		if err == nil {
			return store.Begun{Status: store.New, LeaseUntil: leaseUntil}, nil
		}
		ccf, ok := isConditionFailed(err)
		if !ok {
			return store.Begun{}, err
		}
		old, err := st.itemAfterFailure(ctx, ccf, pk)
		if err != nil {
			return store.Begun{}, err
		}
		if old != nil && getN(old, "exp") > now {
			if store.IdempotencyStatus(getN(old, "st")) == store.Completed {
				return store.Begun{Status: store.Completed, Result: getB(old, "res"), LeaseUntil: getN(old, "lease")}, nil
			}
			if getN(old, "lease") > now {
				return store.Begun{Status: store.InProgress, LeaseUntil: getN(old, "lease")}, nil
			}
		}
		if attempt >= 5 {
			return store.Begun{}, fmt.Errorf("begin %s: the record keeps changing", key)
		}
	}
}

// Complete implements store.Idempotency.
func (st *Store) Complete(ctx context.Context, key string, result []byte, expiry time.Duration) error {
	item := map[string]types.AttributeValue{
		"pk": s(idemPK(key)), "st": n(int64(store.Completed)), "lease": n(0), "exp": n(st.now().Unix() + seconds(expiry)),
	}
	if len(result) > 0 {
		item["res"] = &types.AttributeValueMemberB{Value: result}
	}
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.tables.State, Item: item, ReturnConsumedCapacity: total})
	return err
}

// Release implements store.Idempotency.
func (st *Store) Release(ctx context.Context, key string) error {
	cond := "#st = :inprogress"
	_, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &st.tables.State, Key: map[string]types.AttributeValue{"pk": s(idemPK(key))},
		ConditionExpression:       &cond,
		ExpressionAttributeNames:  map[string]string{"#st": "st"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":inprogress": n(int64(store.InProgress))},
		ReturnConsumedCapacity:    total,
	})
	if _, ok := isConditionFailed(err); ok {
		return nil
	}
	return err
}
