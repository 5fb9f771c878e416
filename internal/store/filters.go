package store

import (
	"strconv"
	"strings"
)

// filters builds the WHERE clause of a list query and its arguments, whose
// placeholders ($1, $2, …) follow the order they are added in.
type filters struct {
	conds []string
	args  []any
}

// arg adds v to the arguments and returns its placeholder.
func (f *filters) arg(v any) string {
	f.args = append(f.args, v)
	return "$" + strconv.Itoa(len(f.args))
}

// add adds one condition; the conditions are joined with AND.
func (f *filters) add(cond string) { f.conds = append(f.conds, cond) }

// where is " WHERE <conditions>", or "" without any.
func (f *filters) where() string {
	if len(f.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.conds, " AND ")
}
