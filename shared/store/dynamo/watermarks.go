package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/qbridge/qbridge/shared/store"
)

func watermarkPK(job string) string { return "W#" + job }

// Get implements store.Watermarks.
func (st *Store) Get(ctx context.Context, job string) (store.Watermark, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.tables.State, Key: map[string]types.AttributeValue{"pk": s(watermarkPK(job))},
		ConsistentRead: aws.Bool(true), ReturnConsumedCapacity: total,
	})
	if err != nil {
		return store.Watermark{Job: job}, err
	}
	if out.Item == nil {
		return store.Watermark{Job: job}, store.ErrNotFound
	}
	return store.Watermark{Job: job, Value: getN(out.Item, "val"), UpdatedAt: time.UnixMicro(getN(out.Item, "upd")).UTC()}, nil
}

// Advance implements store.Watermarks: a conditional update that never
// moves the watermark back.
func (st *Store) Advance(ctx context.Context, job string, value int64) (bool, error) {
	cond := "attribute_not_exists(pk) OR #val < :val"
	update := "SET #val = :val, #upd = :upd"
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.tables.State, Key: map[string]types.AttributeValue{"pk": s(watermarkPK(job))},
		UpdateExpression: &update, ConditionExpression: &cond,
		ExpressionAttributeNames:  map[string]string{"#val": "val", "#upd": "upd"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":val": n(value), ":upd": n(st.now().UnixMicro())},
		ReturnConsumedCapacity:    total,
	})
	if _, ok := isConditionFailed(err); ok {
		return false, nil
	}
	return err == nil, err
}
