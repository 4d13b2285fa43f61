// Package model holds qbridge's domain types: the entity kinds of the
// integration workshop, the canonical change event every ERP adapter produces,
// and the quality decision AlisQI sends back. It imports nothing of qbridge.
package model

import (
	"encoding/json"
	"time"
)

// Kind is one of the workshop's business objects.
type Kind string

// The workshop's objects. ERP owns master data and transactions; AlisQI owns
// inspections and decisions.
const (
	KindItem            Kind = "item" // item or material
	KindSupplier        Kind = "supplier"
	KindCustomer        Kind = "customer"
	KindUnitOfMeasure   Kind = "unitOfMeasure"
	KindLocation        Kind = "location"
	KindMachine         Kind = "machine"
	KindProductionLine  Kind = "productionLine"
	KindPurchaseOrder   Kind = "purchaseOrder"
	KindPurchaseReceipt Kind = "purchaseReceipt"
	KindProductionOrder Kind = "productionOrder"
	KindWorkOrder       Kind = "workOrder"
	KindBatch           Kind = "batch" // batch or lot
	KindInspection      Kind = "inspection"
	KindDecision        Kind = "decision"
)

// Kinds lists every valid kind, in workshop order.
var Kinds = []Kind{
	KindItem, KindSupplier, KindCustomer, KindUnitOfMeasure, KindLocation,
	KindMachine, KindProductionLine, KindPurchaseOrder, KindPurchaseReceipt,
	KindProductionOrder, KindWorkOrder, KindBatch, KindInspection, KindDecision,
}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, v := range Kinds {
		if k == v {
			return true
		}
	}
	return false
}

// IsMasterData reports whether the kind is master data (a selection list in
// AlisQI) rather than a transaction (a measurement set).
func (k Kind) IsMasterData() bool {
	switch k {
	case KindItem, KindSupplier, KindCustomer, KindUnitOfMeasure, KindLocation,
		KindMachine, KindProductionLine:
		return true
	}
	return false
}

// Action is what happened to a record in the ERP.
type Action string

// Actions an adapter can report.
const (
	ActionCreated       Action = "created"
	ActionUpdated       Action = "updated"
	ActionDeleted       Action = "deleted"
	ActionReleased      Action = "released"
	ActionStatusChanged Action = "statusChanged"
)

// Actions lists every valid action.
var Actions = []Action{ActionCreated, ActionUpdated, ActionDeleted, ActionReleased, ActionStatusChanged}

// Valid reports whether a is one of Actions.
func (a Action) Valid() bool {
	for _, v := range Actions {
		if a == v {
			return true
		}
	}
	return false
}

// ChangeEvent is the canonical form of "something changed in the ERP".
// Thin events carry only the key (and a resource to fetch); full events
// carry the record in Payload.
type ChangeEvent struct {
	ID         string `json:"id"`
	Connection string `json:"connection"`
	Entity     string `json:"entity"` // the spec's entity name, e.g. "items"
	Kind       Kind   `json:"kind"`
	Key        string `json:"key"`
	Version    int64  `json:"version,omitempty"` // see ParseVersion; 0 when unknown (thin)
	Action     Action `json:"action"`
	Thin       bool   `json:"thin,omitempty"`
	Resource   string `json:"resource,omitempty"` // where to fetch a thin event's record
	// Collection marks a notice that many records of the entity changed
	// since Version (BC's "collection" change type): pull them all.
	Collection bool            `json:"collection,omitempty"`
	Payload    json.RawMessage `json:"payload,omitempty"`
	Source     string          `json:"source"` // adapter name, e.g. "businesscentral"
	ReceivedAt time.Time       `json:"receivedAt"`
}

// EntityKey identifies one record of one entity of one connection: the unit
// of coalescing, version guarding and idempotency.
type EntityKey struct {
	Connection string `json:"connection"`
	Entity     string `json:"entity"`
	Key        string `json:"key"`
}

// EntityKey returns the event's entity key.
func (e *ChangeEvent) EntityKey() EntityKey {
	return EntityKey{Connection: e.Connection, Entity: e.Entity, Key: e.Key}
}

// String renders the key for logs and store keys: connection/entity/key.
func (k EntityKey) String() string { return k.Connection + "/" + k.Entity + "/" + k.Key }

// Verdict is AlisQI's quality decision, normalised.
type Verdict string

// The four verdicts the workshop maps AlisQI field values onto.
const (
	VerdictAccept      Verdict = "accept"
	VerdictReject      Verdict = "reject"
	VerdictBlock       Verdict = "block"
	VerdictConditional Verdict = "conditional"
)

// Verdicts lists every valid verdict.
var Verdicts = []Verdict{VerdictAccept, VerdictReject, VerdictBlock, VerdictConditional}

// Valid reports whether v is one of Verdicts.
func (v Verdict) Valid() bool {
	for _, x := range Verdicts {
		if v == x {
			return true
		}
	}
	return false
}

// Decision is a quality decision to carry back to the ERP.
type Decision struct {
	Connection string    `json:"connection"`
	Outcome    string    `json:"outcome"` // the spec outcome that matched
	Entity     string    `json:"entity"`  // the ERP entity the decision is about
	Key        string    `json:"key"`     // its key in the ERP
	Verdict    Verdict   `json:"verdict"`
	Value      string    `json:"value"` // the AlisQI field value that produced the verdict
	Reason     string    `json:"reason,omitempty"`
	FollowUp   string    `json:"followUp,omitempty"`
	ResultID   string    `json:"resultId,omitempty"` // AlisQI "@id"
	DecidedAt  time.Time `json:"decidedAt"`
}
