package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/store"
)

func statePK(k model.EntityKey) string { return "S#" + k.Connection + "#" + k.Entity + "#" + k.Key }

func stateItem(st store.EntityState, now time.Time) (map[string]types.AttributeValue, error) {
	item := map[string]types.AttributeValue{
		"pk":    s(statePK(st.Key)),
		"v":     n(st.Version),
		"h":     s(st.Hash),
		"lease": n(st.LeaseUntil),
		"upd":   n(now.UnixMicro()),
	}
	// Empty strings are left out: older DynamoDB-compatible servers refuse them.
	for k, v := range map[string]string{"aid": st.AlisQIID, "aqk": st.AlisQIKey, "dec": st.Decision, "own": st.Owner, "hl": st.LeaseHolder()} {
		if v != "" {
			item[k] = s(v)
		}
	}
	if st.Previous != nil {
		b, err := json.Marshal(st.Previous)
		if err != nil {
			return nil, err
		}
		item["prev"] = s(string(b))
	}
	return item, nil
}

func stateFrom(k model.EntityKey, item map[string]types.AttributeValue) (*store.EntityState, error) {
	if item == nil {
		return nil, nil
	}
	st := &store.EntityState{
		Key: k, Version: getN(item, "v"), Hash: getS(item, "h"), AlisQIID: getS(item, "aid"), AlisQIKey: getS(item, "aqk"),
		Decision: getS(item, "dec"), Owner: getS(item, "own"), Holder: getS(item, "hl"), LeaseUntil: getN(item, "lease"),
		UpdatedAt: time.UnixMicro(getN(item, "upd")).UTC(),
	}
	if p := getS(item, "prev"); p != "" {
		if err := json.Unmarshal([]byte(p), &st.Previous); err != nil {
			return nil, fmt.Errorf("state %s: previous: %w", k, err)
		}
	}
	return st, nil
}

// GetMany implements store.EntityStates: BatchGetItem, 100 keys a call,
// strongly consistent (a wrong "applied" guess would cost a failed write,
// five times the price of the read), unprocessed keys retried.
func (st *Store) GetMany(ctx context.Context, keys []model.EntityKey) (map[model.EntityKey]store.EntityState, error) {
	out := make(map[model.EntityKey]store.EntityState, len(keys))
	byPK := make(map[string]model.EntityKey, len(keys))
	for _, k := range keys {
		byPK[statePK(k)] = k
	}
	pks := make([]string, 0, len(byPK))
	for pk := range byPK {
		pks = append(pks, pk)
	}
	for start := 0; start < len(pks); start += 100 {
		var req []map[string]types.AttributeValue
		for _, pk := range pks[start:min(start+100, len(pks))] {
			req = append(req, map[string]types.AttributeValue{"pk": s(pk)})
		}
		pending := map[string]types.KeysAndAttributes{st.tables.State: {Keys: req, ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 0 {
				if err := backoff(ctx, attempt); err != nil {
					return nil, err
				}
			}
			res, err := st.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending, ReturnConsumedCapacity: total})
			if err != nil {
				return nil, err
			}
			for _, item := range res.Responses[st.tables.State] {
				k := byPK[getS(item, "pk")]
				state, err := stateFrom(k, item)
				if err != nil {
					return nil, err
				}
				out[k] = *state
			}
			pending = res.UnprocessedKeys
		}
	}
	return out, nil
}

// Apply implements store.EntityStates with one conditional PutItem that
// encodes store.Decide.
func (st *Store) Apply(ctx context.Context, next store.EntityState, force bool) (store.Outcome, *store.EntityState, error) {
	pk := statePK(next.Key)
	for attempt := 0; ; attempt++ {
		now := st.now()
		item, err := stateItem(next, now)
		if err != nil {
			return 0, nil, err
		}
		names := map[string]string{"#v": "v", "#l": "lease"}
		values := map[string]types.AttributeValue{":v": n(next.Version), ":now": n(now.Unix())}
		newer := "#v < :v OR #h <> :h"
		if force {
			newer = "#v <= :v"
		} else {
			names["#h"] = "h"
			values[":h"] = s(next.Hash)
		}
		free := "#l <= :now"
		if next.Owner != "" {
			names["#o"] = "own"
			values[":o"] = s(next.Owner)
			newer += " OR #o = :o"
		}
		if holder := next.LeaseHolder(); holder != "" {
			names["#hl"] = "hl"
			values[":hl"] = s(holder)
			free += " OR #hl = :hl"
		}
		cond := fmt.Sprintf("attribute_not_exists(pk) OR (#v <= :v AND (%s) AND (%s))", newer, free)
		_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: &st.tables.State, Item: item, ConditionExpression: &cond,
			ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			ReturnConsumedCapacity:              total,
		})
		if err == nil {
			return store.Applied, nil, nil
		}
		ccf, ok := isConditionFailed(err)
		if !ok {
			return 0, nil, err
		}
		old, err := st.itemAfterFailure(ctx, ccf, pk)
		if err != nil {
			return 0, nil, err
		}
		current, err := stateFrom(next.Key, old)
		if err != nil {
			return 0, nil, err
		}
		if outcome := store.Decide(current, &next, force, now); outcome != store.Applied {
			return outcome, current, nil
		}
		// The item changed between the failed write and the read: try again.
		if attempt >= 5 {
			return 0, nil, fmt.Errorf("apply %s: the state keeps changing", next.Key)
		}
	}
}

// Restore implements store.EntityStates.
func (st *Store) Restore(ctx context.Context, k model.EntityKey, holder string, prev *store.EntityState) error {
	cond := "#hl = :hl"
	names := map[string]string{"#hl": "hl"}
	values := map[string]types.AttributeValue{":hl": s(holder)}
	var err error
	if prev == nil {
		_, err = st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: &st.tables.State, Key: map[string]types.AttributeValue{"pk": s(statePK(k))},
			ConditionExpression: &cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			ReturnConsumedCapacity: total,
		})
	} else {
		p := *prev
		p.Key = k
		var item map[string]types.AttributeValue
		if item, err = stateItem(p, st.now()); err != nil {
			return err
		}
		_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: &st.tables.State, Item: item,
			ConditionExpression: &cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			ReturnConsumedCapacity: total,
		})
	}
	if _, ok := isConditionFailed(err); ok {
		return nil // someone else holds the key now: their state stands
	}
	return err
}
