package main

import (
	"fmt"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/qbridge/qbridge/shared/spec"
)

// monitoring: alarms to the escalation topic, and one dashboard.
func (s *Stack) monitoring(specs []*spec.Spec) {
	action := awscloudwatchactions.NewSnsAction(s.Alarms)
	alarm := func(id, what string, m awscloudwatch.IMetric, threshold float64, missing awscloudwatch.TreatMissingData) awscloudwatch.Alarm {
		a := awscloudwatch.NewAlarm(s.Stack, jsii.String(id), &awscloudwatch.AlarmProps{
			Metric: m, Threshold: jsii.Number(threshold), EvaluationPeriods: jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   missing, AlarmDescription: jsii.String("qbridge: " + what),
		})
		a.AddAlarmAction(action)
		return a
	}
	five := awscdk.Duration_Minutes(jsii.Number(5))
	depth := func(q awssqs.Queue) awscloudwatch.Metric {
		return q.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Maximum")})
	}
	var widgets []awscloudwatch.IWidget
	for id, q := range map[string]awssqs.Queue{"InboundDeadLetters": s.InboundDLQ, "AsyncFailures": s.AsyncDLQ} {
		alarm(id+"Alarm", "dead letters waiting for an operator ("+id+")", depth(q), 1, awscloudwatch.TreatMissingData_NOT_BREACHING)
	}
	oldest := s.Inbound.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Maximum")})
	alarm("InboundBacklogAlarm", "the oldest inbound event waits over 15 minutes: dispatch is stuck or AlisQI is throttling", oldest, oldestAlarm, awscloudwatch.TreatMissingData_NOT_BREACHING)
	widgets = append(widgets,
		graph("Dead letters", depth(s.InboundDLQ), depth(s.AsyncDLQ)),
		graph("Inbound backlog: age of oldest message (s)", oldest),
	)

	names := make([]string, 0, len(s.Functions))
	for n := range s.Functions {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs, throttles []awscloudwatch.IMetric
	for _, n := range names {
		fn := s.Functions[n]
		e := fn.MetricErrors(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")})
		t := fn.MetricThrottles(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")})
		alarm(title(n)+"ErrorsAlarm", n+" function errors", e, 1, awscloudwatch.TreatMissingData_NOT_BREACHING)
		alarm(title(n)+"ThrottlesAlarm", n+" function throttled", t, 1, awscloudwatch.TreatMissingData_NOT_BREACHING)
		errs, throttles = append(errs, e), append(throttles, t)
	}
	widgets = append(widgets, graph("Function errors", errs...), graph("Function throttles", throttles...))

	// From the functions' EMF metrics (namespace qbridge).
	custom := func(name, conn, flow, stat string, period awscdk.Duration) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String("qbridge"), MetricName: jsii.String(name),
			DimensionsMap: &map[string]*string{"Connection": jsii.String(conn), "Flow": jsii.String(flow)}, Statistic: jsii.String(stat), Period: period})
	}
	minute := awscdk.Duration_Minutes(jsii.Number(1))
	for _, sp := range specs {
		c := sp.Connection
		calls := custom("alisqiCalls", c, "dispatch", "Sum", minute)
		throttled := custom("alisqiThrottled", c, "dispatch", "Sum", five)
		budget := float64(sp.AlisQI.CallsPerMinute) * 0.9
		alarm("AlisQIBudget-"+c, fmt.Sprintf("%s uses over 90%% of AlisQI's %d calls/minute", c, sp.AlisQI.CallsPerMinute), calls, budget, awscloudwatch.TreatMissingData_NOT_BREACHING)
		alarm("AlisQIThrottled-"+c, c+": AlisQI answered 429 repeatedly", throttled, 3, awscloudwatch.TreatMissingData_NOT_BREACHING)
		lag := custom("watermarkLagSeconds", c, "sync", "Maximum", five)
		alarm("WatermarkLag-"+c, c+": a scheduled pull is over an hour behind", lag, 3600, awscloudwatch.TreatMissingData_NOT_BREACHING)
		outcomes := []awscloudwatch.IMetric{}
		for _, o := range []string{"applied", "unchanged", "stale", "coalesced", "deadLettered", "retried"} {
			outcomes = append(outcomes, custom(o, c, "dispatch", "Sum", five))
		}
		widgets = append(widgets,
			graph(c+": events by outcome", outcomes...),
			graph(c+": AlisQI calls per minute (limit "+fmt.Sprint(sp.AlisQI.CallsPerMinute)+")", calls, throttled),
			graph(c+": watermark lag (s)", lag))
	}
	dash := awscloudwatch.NewDashboard(s.Stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{DashboardName: jsii.String("qbridge-" + *s.Stack.StackName())})
	for i := 0; i < len(widgets); i += 2 {
		dash.AddWidgets(widgets[i:min(i+2, len(widgets))]...)
	}
}

func graph(title string, metrics ...awscloudwatch.IMetric) awscloudwatch.IWidget {
	return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Left: &metrics, Width: jsii.Number(12)})
}
