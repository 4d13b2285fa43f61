package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// nagSuppressions records, with reasons, the cdk-nag findings qbridge
// accepts. Everything else must pass the AwsSolutions pack.
func (s *Stack) nagSuppressions() {
	suppress := func(id, reason string, appliesTo ...any) *cdknag.NagPackSuppression {
		sp := &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
		if len(appliesTo) > 0 {
			sp.AppliesTo = &appliesTo
		}
		return sp
	}
	cdknag.NagSuppressions_AddStackSuppressions(s.Stack, &[]*cdknag.NagPackSuppression{
		suppress("AwsSolutions-IAM5", "Lambda writes to log streams it names itself; the grant is scoped to the function's own log group.",
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::<[A-Za-z]+Logs[0-9A-F]+\.Arn>:log-stream:\*$/g`)}),
		suppress("AwsSolutions-SMG4", "The secrets hold third-party credentials (AlisQI API token, ERP client secret, webhook secrets) that only their vendors can rotate; the runbook in the README covers rotation."),
		suppress("AwsSolutions-SNS2", "The alarm topic carries alarm names only; CloudWatch cannot publish to a topic encrypted with the AWS-managed key, and a customer key for alarm texts is cost without benefit."),
	}, jsii.Bool(true))
	for _, q := range []awscdk.IResource{s.InboundDLQ, s.AsyncDLQ} {
		cdknag.NagSuppressions_AddResourceSuppressions(q, &[]*cdknag.NagPackSuppression{
			suppress("AwsSolutions-SQS3", "This queue is itself a dead-letter queue; operators drain it through the ops API."),
		}, jsii.Bool(true))
	}
	cdknag.NagSuppressions_AddResourceSuppressions(s.API, &[]*cdknag.NagPackSuppression{
		suppress("AwsSolutions-APIG4", "ERP webhooks cannot sign with AWS credentials: the ingest function verifies every caller (HMAC signature with a 5-minute window, BC clientState in constant time) and answers 401 otherwise."),
	}, jsii.Bool(true))
}
