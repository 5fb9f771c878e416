package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
)

// consoleLog holds the errors a tab reported, in their order.
type consoleLog struct {
	mu     sync.Mutex
	errors []string
}

// consoleLogKey is the context key of a tab's *consoleLog.
type consoleLogKey struct{}

// record is the tab's event listener. It runs on the loop that reads the
// browser's messages, so it only formats and appends.
func (l *consoleLog) record(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		msg = "console." + string(ev.Type) + ": " + argsText(ev.Args)
		if st := ev.StackTrace; st != nil && len(st.CallFrames) > 0 {
			msg += where(st.CallFrames[0].URL, st.CallFrames[0].LineNumber)
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		if d == nil {
			return
		}
		msg = "exception: " + d.Text
		if d.Exception != nil {
			// The description of an Error is its stack; keep its first line.
			first, _, _ := strings.Cut(valueText(d.Exception), "\n")
			msg += " " + first
		}
		msg += where(d.URL, d.LineNumber)
	case *log.EventEntryAdded:
		e := ev.Entry
		if e == nil || e.Level != log.EntryLevelError {
			return
		}
		// A Content-Security-Policy violation is an entry of source
		// "security" (or "other", depending on the directive).
		msg = string(e.Source) + ": " + e.Text + where(e.URL, e.LineNumber)
	default:
		return
	}
	l.mu.Lock()
	l.errors = append(l.errors, msg)
	l.mu.Unlock()
}

// where formats a location, with the line 1-based, or "" without a URL.
func where(url string, line int64) string {
	if url == "" {
		return ""
	}
	return fmt.Sprintf(" (%s:%d)", url, line+1)
}

// argsText renders the arguments of a console call, separated by spaces.
func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = valueText(a)
	}
	return strings.Join(parts, " ")
}

// valueText renders one value: a string as it is, anything else by its
// description or its JSON value.
func valueText(o *runtime.RemoteObject) string {
	if o.Type == runtime.RemoteObjectTypeString {
		var s string
		if json.Unmarshal(o.Value, &s) == nil {
			return s
		}
	}
	switch {
	case o.UnserializableValue != "":
		return string(o.UnserializableValue)
	case o.Description != "":
		return o.Description
	case len(o.Value) > 0:
		return string(o.Value)
	}
	return string(o.Type)
}

// ConsoleErrors returns what the page of the tab (a context from New) has
// reported as an error so far, oldest first, one line each: console.error
// and failed console.assert calls ("console.error: …"), uncaught exceptions
// and unhandled rejections ("exception: …"), and error entries of the
// browser log, such as Content-Security-Policy violations and failed
// resource loads ("security: Refused to …", "network: Failed to load …").
//
// The browser sends these as it goes: an error raised while a page loads
// is there once chromedp.Navigate returns; one raised later, once a check
// (WaitText, say) has seen its effect.
func ConsoleErrors(ctx context.Context) []string {
	l, ok := ctx.Value(consoleLogKey{}).(*consoleLog)
	if !ok {
		panic("browsertest: ConsoleErrors needs a context from browsertest.New")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errors...)
}

// NoConsoleErrors fails the test, listing them, if the page reported any
// error (see ConsoleErrors).
func NoConsoleErrors(t testing.TB, ctx context.Context) {
	t.Helper()
	if errs := ConsoleErrors(ctx); len(errs) > 0 {
		t.Errorf("browsertest: the page reported %d error(s):\n\t%s", len(errs), strings.Join(errs, "\n\t"))
	}
}
