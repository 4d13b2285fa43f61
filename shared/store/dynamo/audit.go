package dynamo

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/store"
)

const (
	hourLayout = "2006-01-02T15"
	// maxPage keeps a page well under DynamoDB's 400 KB item limit.
	maxPage = 300 << 10
)

func auditPK(connection string, t time.Time) string {
	return "A#" + connection + "#" + t.UTC().Format(hourLayout)
}

// Append implements store.Audit: one page per connection and hour.
func (st *Store) Append(ctx context.Context, recs []store.AuditRecord) error {
	groups := map[string][]store.AuditRecord{}
	var order []string
	for _, r := range recs {
		pk := auditPK(r.Connection, r.Time)
		if _, ok := groups[pk]; !ok {
			order = append(order, pk)
		}
		groups[pk] = append(groups[pk], r)
	}
	for _, pk := range order {
		if err := st.putPages(ctx, pk, groups[pk]); err != nil {
			return err
		}
	}
	return nil
}

func (st *Store) putPages(ctx context.Context, pk string, recs []store.AuditRecord) error {
	body, err := gzipJSON(recs)
	if err != nil {
		return err
	}
	if len(body) > maxPage && len(recs) > 1 {
		half := len(recs) / 2
		if err := st.putPages(ctx, pk, recs[:half]); err != nil {
			return err
		}
		return st.putPages(ctx, pk, recs[half:])
	}
	first := recs[0].Time
	for _, r := range recs {
		if r.Time.Before(first) {
			first = r.Time
		}
	}
	cond := "attribute_not_exists(pk)"
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &st.tables.Audit,
		Item: map[string]types.AttributeValue{
			"pk":   s(pk),
			"sk":   s(fmt.Sprintf("%016d#%s", first.UnixMicro(), randomID())),
			"n":    n(int64(len(recs))),
			"recs": &types.AttributeValueMemberB{Value: body},
			"exp":  n(first.Add(st.AuditRetention).Unix()),
		},
		ConditionExpression:    &cond,
		ReturnConsumedCapacity: total,
	})
	return err
}

func gzipJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ByKey implements store.Audit.
func (st *Store) ByKey(ctx context.Context, k model.EntityKey, since time.Time, limit int) ([]store.AuditRecord, error) {
	return st.scan(ctx, k.Connection, since, limit, func(r *store.AuditRecord) bool {
		return r.Entity == k.Entity && r.Key == k.Key
	})
}

// Since implements store.Audit.
func (st *Store) Since(ctx context.Context, connection string, since time.Time, limit int) ([]store.AuditRecord, error) {
	return st.scan(ctx, connection, since, limit, func(*store.AuditRecord) bool { return true })
}

// scan reads hour pages from the newest back to since, keeping matching
// records, until limit records are found in whole hours.
func (st *Store) scan(ctx context.Context, connection string, since time.Time, limit int, keep func(*store.AuditRecord) bool) ([]store.AuditRecord, error) {
	now := st.now()
	if oldest := now.Add(-st.AuditRetention); since.Before(oldest) {
		since = oldest
	}
	var out []store.AuditRecord
	for hour := now.UTC().Truncate(time.Hour); !hour.Before(since.UTC().Truncate(time.Hour)) && len(out) < limit; hour = hour.Add(-time.Hour) {
		var inHour []store.AuditRecord
		pk := auditPK(connection, hour)
		var start map[string]types.AttributeValue
		for {
			res, err := st.db.Query(ctx, &dynamodb.QueryInput{
				TableName: &st.tables.Audit, KeyConditionExpression: aws.String("pk = :pk"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk)},
				ScanIndexForward:          aws.Bool(false), ExclusiveStartKey: start, ReturnConsumedCapacity: total,
			})
			if err != nil {
				return nil, err
			}
			for _, item := range res.Items {
				recs, err := gunzipRecords(getB(item, "recs"))
				if err != nil {
					return nil, fmt.Errorf("audit page %s: %w", getS(item, "sk"), err)
				}
				for i := range recs {
					if !recs[i].Time.Before(since) && keep(&recs[i]) {
						inHour = append(inHour, recs[i])
					}
				}
			}
			if start = res.LastEvaluatedKey; start == nil {
				break
			}
		}
		sort.SliceStable(inHour, func(i, j int) bool { return inHour[i].Time.After(inHour[j].Time) })
		out = append(out, inHour...)
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func gunzipRecords(b []byte) ([]store.AuditRecord, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	var recs []store.AuditRecord
	err = json.Unmarshal(data, &recs)
	return recs, err
}
