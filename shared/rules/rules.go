// Package rules compiles the spec's quality-trigger conditions once, at cold
// start, and evaluates them per record. Conditions are expr-lang expressions
// over three maps: record (the ERP record as fetched), event (what happened)
// and previous (the values the last applied version had).
package rules

import (
	"fmt"
	"sort"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Env is what a condition can see.
type Env struct {
	Record   map[string]any `expr:"record"`
	Event    map[string]any `expr:"event"`
	Previous map[string]any `expr:"previous"`
}

// Condition is a compiled boolean expression.
type Condition struct {
	program  *vm.Program
	source   string
	previous []string
}

// Compile parses and type-checks src; it must yield a bool.
func Compile(src string) (*Condition, error) {
	program, err := expr.Compile(src, expr.Env(Env{}), expr.AsBool())
	if err != nil {
		return nil, err
	}
	// The compiled program keeps its AST: find the previous.* fields there.
	v := &previousFields{seen: map[string]bool{}}
	node := program.Node()
	ast.Walk(&node, v)
	c := &Condition{program: program, source: src}
	for f := range v.seen {
		c.previous = append(c.previous, f)
	}
	sort.Strings(c.previous)
	return c, nil
}

// Eval runs the condition. A runtime error (say, comparing a string with a
// number) is returned, never panicked.
func (c *Condition) Eval(env *Env) (bool, error) {
	out, err := expr.Run(c.program, env)
	if err != nil {
		return false, fmt.Errorf("condition %q: %w", c.source, err)
	}
	b, _ := out.(bool)
	return b, nil
}

// String returns the source text.
func (c *Condition) String() string { return c.source }

// PreviousFields lists the record fields the condition reads from previous,
// so the state store keeps just those between versions.
func (c *Condition) PreviousFields() []string { return c.previous }

type previousFields struct{ seen map[string]bool }

func (v *previousFields) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || id.Value != "previous" {
		return
	}
	if s, ok := m.Property.(*ast.StringNode); ok {
		v.seen[s.Value] = true
	}
}
