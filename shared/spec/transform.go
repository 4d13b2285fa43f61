package spec

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// UnmarshalYAML reads "trim" or a one-key mapping such as {truncate: 40}.
// The schema has already vetted the shape; this only reads it.
func (t *Transform) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		t.Op = n.Value
		return nil
	}
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		return fmt.Errorf("line %d: a transform is a name or a one-key mapping", n.Line)
	}
	t.Op = n.Content[0].Value
	arg := n.Content[1]
	switch t.Op {
	case "truncate", "round":
		return arg.Decode(&t.N)
	case "number":
		var a struct {
			Decimal string `yaml:"decimal"`
		}
		err := arg.Decode(&a)
		t.Decimal = a.Decimal
		return err
	case "date":
		var a struct {
			Layout   string `yaml:"layout"`
			DateOnly bool   `yaml:"dateOnly"`
		}
		err := arg.Decode(&a)
		t.Layout, t.DateOnly = a.Layout, a.DateOnly
		return err
	case "convert":
		var a struct {
			Table    string `yaml:"table"`
			From     string `yaml:"from"`
			FromPath string `yaml:"fromPath"`
			To       string `yaml:"to"`
		}
		err := arg.Decode(&a)
		t.Table, t.From, t.FromPath, t.To = a.Table, a.From, a.FromPath, a.To
		return err
	}
	return nil
}

// String renders the transform as the workshop document shows it.
func (t Transform) String() string {
	switch t.Op {
	case "truncate", "round":
		return fmt.Sprintf("%s %d", t.Op, t.N)
	case "number":
		if t.Decimal == "," {
			return "number (decimal comma)"
		}
	case "date":
		s := "date"
		if t.DateOnly {
			s = "date only"
		}
		if t.Layout != "" {
			s += " from " + t.Layout
		}
		return s
	case "convert":
		from := t.From
		if t.FromPath != "" {
			from = "unit in " + t.FromPath
		}
		return fmt.Sprintf("convert %s → %s (%s)", from, t.To, t.Table)
	}
	return t.Op
}
