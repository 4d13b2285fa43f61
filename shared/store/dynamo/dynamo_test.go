package dynamo

import (
	"time"

	"context"
	"github.com/aws/smithy-go/middleware"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/obs"
	"github.com/qbridge/qbridge/shared/store"
	"github.com/qbridge/qbridge/shared/store/storetest"
	"github.com/qbridge/qbridge/shared/testenv"
)

func newStore(t testing.TB, now func() time.Time, meter *obs.Meter) *Store {
	t.Helper()
	var opts []func(*middleware.Stack) error
	if meter != nil {
		opts = append(opts, meter.APIOption)
	}
	db := testenv.DynamoDB(t, opts...)
	tables := Tables{State: testenv.Name("state"), Audit: testenv.Name("audit")}
	if err := CreateTables(context.Background(), db, tables); err != nil {
		t.Fatal(err)
	}
	return New(db, tables, now)
}

// TestContract runs the store contract against dynalite.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, clock *storetest.Clock) storetest.Stores {
		s := newStore(t, clock.Now, nil)
		return storetest.Stores{States: s, Idempotency: s, Watermarks: s, Audit: s, Limiter: s}
	})
}

// The old item in the error is used without a read; dynalite never sends
// it, so this path is tested with the error DynamoDB sends.
func TestItemFromConditionFailure(t *testing.T) {
	meter := &obs.Meter{}
	st := newStore(t, nil, meter)
	k := model.EntityKey{Connection: "c", Entity: "items", Key: "1"}
	item, _ := stateItem(store.EntityState{Key: k, Version: 7, Hash: "h", Owner: "m"}, time.Now())
	before := meter.Snapshot()
	got, err := st.itemAfterFailure(context.Background(), &types.ConditionalCheckFailedException{Item: item}, statePK(k))
	if err != nil || getN(got, "v") != 7 {
		t.Fatalf("item = %v, %v", got, err)
	}
	if d := meter.Snapshot().Sub(before); d.Total("DynamoDB") != 0 {
		t.Errorf("the carried item was read again: %v", d.Requests)
	}
	// Without the item (dynalite) it is read back.
	if _, _, err := st.Apply(context.Background(), store.EntityState{Key: k, Version: 7, Hash: "h", Owner: "m"}, false); err != nil {
		t.Fatal(err)
	}
	before = meter.Snapshot()
	got, err = st.itemAfterFailure(context.Background(), &types.ConditionalCheckFailedException{}, statePK(k))
	if err != nil || getN(got, "v") != 7 {
		t.Fatalf("read-back item = %v, %v", got, err)
	}
	if d := meter.Snapshot().Sub(before); d.Requests["DynamoDB.GetItem"] != 1 {
		t.Errorf("want one consistent GetItem, got %v", d.Requests)
	}
}
