package sqs

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// CreateQueues creates a standard queue and its dead-letter queue (for
// tests and local emulators; in AWS the CDK stack creates them) and returns
// their URLs.
func CreateQueues(ctx context.Context, c *sqs.Client, name string, visibility time.Duration, maxReceives int) (source, dlq string, err error) {
	d, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		return "", "", fmt.Errorf("create %s-dlq: %w", name, err)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: d.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", "", err
	}
	policy, _ := json.Marshal(map[string]any{"deadLetterTargetArn": attrs.Attributes[string(types.QueueAttributeNameQueueArn)], "maxReceiveCount": maxReceives})
	s, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{
		string(types.QueueAttributeNameVisibilityTimeout): strconv.Itoa(int(visibility / time.Second)),
		string(types.QueueAttributeNameRedrivePolicy):     string(policy),
	}})
	if err != nil {
		return "", "", fmt.Errorf("create %s: %w", name, err)
	}
	return aws.ToString(s.QueueUrl), aws.ToString(d.QueueUrl), nil
}
