package obs

import sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

// attrSize is the billed size of message attributes: names, types and values.
func attrSize(attrs map[string]sqstypes.MessageAttributeValue) int {
	n := 0
	for k, v := range attrs {
		n += len(k) + len(deref2(v.DataType)) + len(deref2(v.StringValue)) + len(v.BinaryValue)
	}
	return n
}
