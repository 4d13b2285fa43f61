// Package dynamo implements qbridge's store ports on DynamoDB (and on
// dynalite, its open-source stand-in: no TransactWriteItems, and a failed
// condition's old item is read back when the error does not carry it).
//
// Table design — two tables, both on-demand:
//
// State table, partition key pk (S), no sort key. Every access is a
// single-key read or conditional write, so one table with prefixed keys
// serves them all, and IAM narrows each function to its prefixes with
// dynamodb:LeadingKeys:
//
//	S#{connection}#{entity}#{key}  entity state: v version, h hash, aid AlisQI id, aqk AlisQI key,
//	                               dec decision, prev previous fields (JSON), own owner,
//	                               hl lease holder, lease (Unix s), upd (Unix µs)
//	I#{key}                        idempotency: st status, res result, lease (Unix s), exp (TTL, Unix s)
//	W#{job}                        watermark: val, upd
//	R#{bucket}                     token bucket: mt milli-tokens, ra refilled (Unix ms),
//	                               bu blocked until (Unix ms), ver (optimistic lock)
//
// An entity state is under 1 KB, so applying one costs exactly one write
// unit; duplicates and stale events are decided from a strongly consistent
// BatchGetItem (100 keys a call) and cost no write.
//
// Audit table, pk (S) = A#{connection}#{hour, 2006-01-02T15}, sk (S) =
// {first record time, Unix µs, 16 digits}#{random}. An item is a page: the
// gzipped JSON of every record one Append made in that hour. Pages keep the
// audit trail near 0.01 write units per event (a record per item would cost
// a full unit each); reads filter pages by key, hour by hour, newest first.
// Functions may only PutItem pages with fresh random keys (IAM grants no
// Update or Delete), so they cannot change or remove a record. exp is the
// retention TTL.
package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/qbridge/qbridge/shared/store"
	"github.com/qbridge/qbridge/shared/wait"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Tables names the two tables.
type Tables struct {
	State string
	Audit string
}

// Store implements every store port.
type Store struct {
	db     API
	tables Tables
	now    func() time.Time
	// AuditRetention is how long audit pages live (their TTL); reads never
	// look further back. Default three years.
	AuditRetention time.Duration
}

var (
	_ store.EntityStates = (*Store)(nil)
	_ store.Idempotency  = (*Store)(nil)
	_ store.Watermarks   = (*Store)(nil)
	_ store.Audit        = (*Store)(nil)
	_ store.RateLimiter  = (*Store)(nil)
)

// New returns a store over the tables; now may be nil (time.Now).
func New(db API, tables Tables, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, tables: tables, now: now, AuditRetention: 3 * 365 * 24 * time.Hour}
}

// total asks DynamoDB to report consumed capacity, which obs.Meter counts.
const total = types.ReturnConsumedCapacityTotal

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func getS(item map[string]types.AttributeValue, k string) string {
	if v, ok := item[k].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(item map[string]types.AttributeValue, k string) int64 {
	if v, ok := item[k].(*types.AttributeValueMemberN); ok {
		i, err := strconv.ParseInt(v.Value, 10, 64)
		if err == nil {
			return i
		}
	}
	return 0
}

func getB(item map[string]types.AttributeValue, k string) []byte {
	if v, ok := item[k].(*types.AttributeValueMemberB); ok {
		return v.Value
	}
	return nil
}

func isConditionFailed(err error) (*types.ConditionalCheckFailedException, bool) {
	var ccf *types.ConditionalCheckFailedException
	return ccf, errors.As(err, &ccf)
}

// itemAfterFailure returns the item whose condition failed: the copy the
// error carries (DynamoDB with ReturnValuesOnConditionCheckFailure=ALL_OLD),
// else a strongly consistent read (dynalite omits it). nil means the item is
// gone.
func (st *Store) itemAfterFailure(ctx context.Context, ccf *types.ConditionalCheckFailedException, pk string) (map[string]types.AttributeValue, error) {
	if ccf.Item != nil {
		return ccf.Item, nil
	}
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.tables.State, Key: map[string]types.AttributeValue{"pk": s(pk)},
		ConsistentRead: aws.Bool(true), ReturnConsumedCapacity: total,
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// seconds rounds d up to whole seconds: a lease is never shorter than asked.
func seconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

// backoff sleeps a little before retrying an optimistic write, with jitter.
func backoff(ctx context.Context, attempt int) error {
	return wait.Sleep(ctx, time.Duration(mrand.Int64N(int64(5*time.Millisecond)<<min(attempt, 6)))+time.Millisecond)
}

func randomID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand does not fail on supported platforms; keep going safely.
		v, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		return fmt.Sprintf("%x", v)
	}
	return hex.EncodeToString(b)
}

// CreateTables creates the two tables (for tests and local emulators; in
// AWS the CDK stack creates them, with TTL, PITR and deletion protection).
func CreateTables(ctx context.Context, db *dynamodb.Client, t Tables) error {
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            &t.State,
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
	})
	if err != nil && !strings.Contains(err.Error(), "ResourceInUse") {
		return fmt.Errorf("create %s: %w", t.State, err)
	}
	_, err = db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   &t.Audit,
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
	})
	if err != nil && !strings.Contains(err.Error(), "ResourceInUse") {
		return fmt.Errorf("create %s: %w", t.Audit, err)
	}
	// Creation finishes asynchronously (on dynalite too): wait for ACTIVE.
	waiter := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, time.Second
	})
	for _, name := range []string{t.State, t.Audit} {
		if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 60*time.Second); err != nil {
			return fmt.Errorf("table %s never became active: %w", name, err)
		}
	}
	return nil
}
