package setting

import (
	"slices"
	"testing"
)

func TestValues(t *testing.T) {
	v := Values{"a": "x", "l": " one, ,two ", "empty": ""}
	if v.Get("a") != "x" || v.Get("missing") != "" || !v.IsSet("empty") || v.IsSet("missing") {
		t.Fatalf("get/isset: %v", v)
	}
	if got := v.List("l"); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("list %q", got)
	}
	if v.List("missing") != nil || v.List("empty") == nil {
		t.Fatal("an unset list is nil, a set empty one is not")
	}
}
