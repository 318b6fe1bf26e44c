package analysis

/*
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

// The part of tree-sitter's API (lib/include/tree_sitter/api.h, 0.25)
// this file calls; the library itself is linked in from
// github.com/tree-sitter/go-tree-sitter.
typedef struct TSLanguage TSLanguage;
typedef struct TSParser TSParser;
typedef struct TSTree TSTree;
typedef struct TSPoint { uint32_t row, column; } TSPoint;
typedef struct TSNode { uint32_t context[4]; const void *id; const TSTree *tree; } TSNode;
typedef struct TSTreeCursor { const void *tree; const void *id; uint32_t context[3]; } TSTreeCursor;
typedef struct TSInput {
	void *payload;
	const char *(*read)(void *payload, uint32_t byte_index, TSPoint position, uint32_t *bytes_read);
	int encoding;
	void *decode;
} TSInput;
typedef struct TSParseState { void *payload; uint32_t current_byte_offset; bool has_error; } TSParseState;
typedef struct TSParseOptions { void *payload; bool (*progress_callback)(TSParseState *state); } TSParseOptions;

TSParser *ts_parser_new(void);
void ts_parser_delete(TSParser *self);
void ts_parser_reset(TSParser *self);
bool ts_parser_set_language(TSParser *self, const TSLanguage *language);
TSTree *ts_parser_parse_with_options(TSParser *self, const TSTree *old_tree, TSInput input, TSParseOptions options);
void ts_tree_delete(TSTree *self);
TSNode ts_tree_root_node(const TSTree *self);
uint32_t ts_node_descendant_count(TSNode self);
uint16_t ts_node_symbol(TSNode self);
bool ts_node_is_named(TSNode self);
uint32_t ts_node_start_byte(TSNode self);
uint32_t ts_node_end_byte(TSNode self);
TSPoint ts_node_start_point(TSNode self);
TSTreeCursor ts_tree_cursor_new(TSNode node);
void ts_tree_cursor_delete(TSTreeCursor *self);
TSNode ts_tree_cursor_current_node(const TSTreeCursor *self);
uint16_t ts_tree_cursor_current_field_id(const TSTreeCursor *self);
bool ts_tree_cursor_goto_first_child(TSTreeCursor *self);
bool ts_tree_cursor_goto_next_sibling(TSTreeCursor *self);
bool ts_tree_cursor_goto_parent(TSTreeCursor *self);

// sb_node is one node of a flattened tree (flatNode in Go).
typedef struct sb_node {
	uint32_t start, end, row, col, next;
	uint16_t symbol, field, named;
} sb_node;

typedef struct sb_source { const char *text; uint32_t len; struct timespec deadline; } sb_source;

static const char *sb_read(void *payload, uint32_t at, TSPoint pos, uint32_t *n) {
	sb_source *s = payload;
	if (at >= s->len) { *n = 0; return ""; }
	*n = s->len - at;
	return s->text + at;
}

// sb_late stops the parse at the deadline.
static bool sb_late(TSParseState *state) {
	sb_source *s = state->payload;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > s->deadline.tv_sec ||
		(now.tv_sec == s->deadline.tv_sec && now.tv_nsec >= s->deadline.tv_nsec);
}

// sb_parser_new makes a parser of lang; NULL when lang will not load.
static TSParser *sb_parser_new(const TSLanguage *lang) {
	TSParser *parser = ts_parser_new();
	if (!ts_parser_set_language(parser, lang)) { ts_parser_delete(parser); return NULL; }
	return parser;
}

// sb_parse parses text with parser and returns its tree flattened in
// pre-order, each node with the index that follows its subtree, in
// memory the caller frees; NULL with *count 0 when the parse ran out of
// time (the parser is reset), NULL with *count 1 when memory ran out.
static sb_node *sb_parse(TSParser *parser, const char *text, uint32_t len, int64_t timeout_us, uint32_t *count, TSTree **done) {
	*count = 1;
	sb_source src = { text, len };
	clock_gettime(CLOCK_MONOTONIC, &src.deadline);
	src.deadline.tv_sec += timeout_us / 1000000;
	src.deadline.tv_nsec += (timeout_us % 1000000) * 1000;
	if (src.deadline.tv_nsec >= 1000000000) { src.deadline.tv_sec++; src.deadline.tv_nsec -= 1000000000; }
	TSInput input = { &src, sb_read, 0, NULL };
	TSParseOptions options = { &src, sb_late };
	TSTree *tree = ts_parser_parse_with_options(parser, NULL, input, options);
	if (tree == NULL) { ts_parser_reset(parser); *count = 0; return NULL; }
	TSNode root = ts_tree_root_node(tree);
	uint32_t cap = ts_node_descendant_count(root);
	sb_node *out = malloc((size_t)cap * sizeof *out);
	uint32_t *open = malloc((size_t)cap * sizeof *open);
	if (out == NULL || open == NULL) { free(out); free(open); ts_tree_delete(tree); return NULL; }
	TSTreeCursor c = ts_tree_cursor_new(root);
	uint32_t n = 0, depth = 0;
	for (;;) {
		TSNode node = ts_tree_cursor_current_node(&c);
		if (n == cap) break; // the count was wrong: keep what fits
		TSPoint p = ts_node_start_point(node);
		out[n] = (sb_node){ ts_node_start_byte(node), ts_node_end_byte(node), p.row, p.column, 0,
			ts_node_symbol(node), ts_tree_cursor_current_field_id(&c), ts_node_is_named(node) };
		open[depth++] = n++;
		if (ts_tree_cursor_goto_first_child(&c)) continue;
		for (;;) {
			out[open[--depth]].next = n;
			if (depth == 0) goto done;
			if (ts_tree_cursor_goto_next_sibling(&c)) break;
			ts_tree_cursor_goto_parent(&c);
		}
	}
	while (depth > 0) out[open[--depth]].next = n;
done:
	ts_tree_cursor_delete(&c);
	free(open);
	*done = tree; // the caller deletes it, off the scan's path
	*count = n;
	return out;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	sitter "github.com/tree-sitter/go-tree-sitter"
)

// flatNode is one node of a parsed tree (sb_node in C).
type flatNode struct {
	start, end, row, col uint32
	// next is the index of the first node after this one's subtree.
	next                 uint32
	symbol, field, named uint16
}

// tree is a parsed file flattened into an array in pre-order: a scan
// reads it without a call into C per node, which made a walk of the
// tree-sitter tree itself cost more than the parse.
type tree struct {
	src   []byte
	nodes []flatNode
	lang  *grammar
}

// grammar holds a language's node kind and field names by id, and the
// parsers of it that are free.
type grammar struct {
	raw    unsafe.Pointer // the C TSLanguage
	kinds  []string
	fields map[string]uint16
	// parsers are free parsers: making one costs about as much as parsing
	// a 200-line file with it.
	parsers chan *C.TSParser
}

// freeParsers is how many idle parsers a grammar keeps.
const freeParsers = 16

// newGrammar reads the names of a tree-sitter language (a TSLanguage, as
// its Go binding's Language returns it).
func newGrammar(raw unsafe.Pointer) *grammar {
	lang := sitter.NewLanguage(raw)
	g := &grammar{raw: raw, fields: map[string]uint16{}, parsers: make(chan *C.TSParser, freeParsers)}
	for id := uint32(0); id < lang.NodeKindCount(); id++ {
		g.kinds = append(g.kinds, lang.NodeKindForId(uint16(id)))
	}
	for id := uint16(1); uint32(id) <= lang.FieldCount(); id++ {
		g.fields[lang.FieldNameForId(id)] = id
	}
	return g
}

// deadTrees are trees the scan is done with: deleting one costs a tenth
// of its parse, which a goroutine of their own pays after the scan.
var deadTrees = make(chan *C.TSTree, 64)

func init() {
	go func() {
		for t := range deadTrees {
			C.ts_tree_delete(t)
		}
	}()
}

// errParseTimeout is a parse that did not end in time.
var errParseTimeout = errors.New("the parse took too long")

func init() {
	if unsafe.Sizeof(flatNode{}) != C.sizeof_sb_node {
		panic("analysis: flatNode does not match sb_node")
	}
}

// parse parses src with g's grammar, within timeout.
func parse(g *grammar, src []byte, timeout time.Duration) (*tree, error) {
	if len(src) > 1<<31 {
		return nil, fmt.Errorf("%d bytes: too large to parse", len(src))
	}
	var parser *C.TSParser
	select {
	case parser = <-g.parsers:
	default:
		if parser = C.sb_parser_new((*C.TSLanguage)(g.raw)); parser == nil {
			return nil, errors.New("the grammar does not load: its ABI is not this tree-sitter's")
		}
	}
	defer func() {
		select {
		case g.parsers <- parser:
		default:
			C.ts_parser_delete(parser)
		}
	}()
	var count C.uint32_t
	var text *C.char
	if len(src) > 0 {
		text = (*C.char)(unsafe.Pointer(&src[0]))
	}
	var done *C.TSTree
	raw := C.sb_parse(parser, text, C.uint32_t(len(src)), C.int64_t(timeout.Microseconds()), &count, &done)
	if done != nil {
		select {
		case deadTrees <- done:
		default:
			C.ts_tree_delete(done)
		}
	}
	if raw == nil {
		if count == 0 {
			return nil, fmt.Errorf("%w (more than %s)", errParseTimeout, timeout)
		}
		return nil, errors.New("the parser ran out of memory")
	}
	defer C.free(unsafe.Pointer(raw))
	nodes := make([]flatNode, int(count))
	copy(nodes, unsafe.Slice((*flatNode)(unsafe.Pointer(raw)), int(count)))
	return &tree{src: src, nodes: nodes, lang: g}, nil
}

// kind is node i's kind, such as "call"; "" for -1, no node.
func (t *tree) kind(i int) string {
	if i < 0 {
		return ""
	}
	sym := int(t.nodes[i].symbol)
	if sym >= len(t.lang.kinds) {
		return "ERROR" // tree-sitter's error symbol is the largest id
	}
	return t.lang.kinds[sym]
}

// text is node i's source; "" for -1, no node.
func (t *tree) text(i int) string {
	if i < 0 {
		return ""
	}
	return string(t.src[t.nodes[i].start:t.nodes[i].end])
}

// finding is a finding of rule r at node i.
func (t *tree) finding(i int, r rule, detail string) Finding {
	msg := r.message
	if detail != "" {
		msg = detail + ": " + msg
	}
	n := t.nodes[i]
	return Finding{Rule: r.id, Severity: r.severity, Line: int(n.row) + 1, Column: int(n.col) + 1,
		Text: shorten(t.text(i)), Message: msg}
}

// children calls fn for each child of node i, in order, named ones only
// when named is set.
func (t *tree) children(i int, named bool, fn func(int)) {
	for c := i + 1; c < int(t.nodes[i].next); c = int(t.nodes[c].next) {
		if !named || t.nodes[c].named != 0 {
			fn(c)
		}
	}
}

// namedChildren lists node i's named children.
func (t *tree) namedChildren(i int) []int {
	var out []int
	t.children(i, true, func(c int) { out = append(out, c) })
	return out
}

// field is node i's child in the named field, or -1.
func (t *tree) field(i int, name string) int {
	id, ok := t.lang.fields[name]
	if !ok {
		return -1
	}
	for c := i + 1; c < int(t.nodes[i].next); c = int(t.nodes[c].next) {
		if t.nodes[c].field == id {
			return c
		}
	}
	return -1
}
