package main

import "time"

// flow is one Lambda function's deployment shape.
type flow struct {
	MemoryMB int
	Timeout  time.Duration
	Why      string // why this memory and timeout
	// Async: invoked asynchronously (EventBridge schedules), so failed
	// invocations need a dead-letter queue. API-invoked functions answer
	// their caller, who retries; SQS-driven ones have their queue's redrive.
	Async bool
}

// flows sizes each function; a folder under functions/ not listed here
// gets defaultFlow.
var flows = map[string]flow{
	"ingest": {128, 10 * time.Second,
		"verifies a signature and sends a few SQS batches; CPU-light, so the smallest size; BC's handshake must be answered within 5 s", false},
	"dispatch": {512, 120 * time.Second,
		"maps thousands of records per batch and writes them to AlisQI under its rate limit; 512 MB buys the CPU that keeps mapping " +
			"and JSON work fast (billed time falls about as memory rises); 2 minutes covers ERP fetches and rate-limit waits", false},
	"sync": {256, 300 * time.Second,
		"pages through ERP deltas and AlisQI decisions on a schedule; long pulls, moderate CPU", true},
	"outcome": {256, 30 * time.Second,
		"one decision per call: an idempotency record and one ERP action", false},
	"ops": {256, 15 * time.Second,
		"health, KPIs and dead-letter actions for operators; short reads", false},
}

var defaultFlow = flow{256, 30 * time.Second, "no sizing decided yet for this flow", true}

func sizing(name string) flow {
	if f, ok := flows[name]; ok {
		return f
	}
	return defaultFlow
}
