package browsertest_test

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/windflow/monitor/internal/browsertest"
)

// strictCSP is the policy of the dashboard: no inline script or style.
const strictCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:"

// The test site: pages under the strict CSP, one script fetching JSON into
// the page, one page breaking the policy and one reporting errors.
var site = map[string]struct{ contentType, body string }{
	"/": {"text/html", `<!doctype html>
<html><head><title>ok</title><link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1">
<script src="/app.js" defer></script></head>
<body><h1>Windflow</h1><p id="status">loading</p></body></html>`},
	"/app.js": {"text/javascript", `fetch("/status.json")
  .then((r) => r.json())
  .then((s) => { document.getElementById("status").textContent = "status: " + s.status; });`},
	"/status.json": {"application/json", `{"status": "all green"}`},
	"/inline": {"text/html", `<!doctype html>
<html><head><title>inline</title><link rel="icon" href="data:,"></head>
<body><p id="ran" style="color: red">no</p><script>document.getElementById("ran").textContent = "yes";</script></body></html>`},
	"/errors": {"text/html", `<!doctype html>
<html><head><title>errors</title><link rel="icon" href="data:,">
<script src="/errors.js"></script></head><body></body></html>`},
	"/errors.js": {"text/javascript", `console.log("not an error");
console.error("boom", 42);
throw new TypeError("broken script");`},
}

// serve starts the test site, every answer with the strict CSP.
func serve(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, ok := site[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Security-Policy", strictCSP)
		w.Header().Set("Content-Type", page.contentType)
		_, _ = w.Write([]byte(page.body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestPageUnderStrictCSP(t *testing.T) {
	base := serve(t)
	ctx := browsertest.New(t)

	browsertest.Navigate(t, ctx, base+"/")
	text := browsertest.WaitText(t, ctx, "#status", "all green", 10*time.Second)
	if text != "status: all green" {
		t.Errorf("#status = %q, want %q", text, "status: all green")
	}

	path := browsertest.Screenshot(t, ctx, t.Name())
	if filepath.Base(path) != "TestPageUnderStrictCSP.png" || filepath.Base(filepath.Dir(path)) != "screenshots" {
		t.Errorf("screenshot path %s, want .../.data/screenshots/TestPageUnderStrictCSP.png", path)
	}
	cfg := decodePNG(t, path)
	if cfg.Width != browsertest.DesktopWidth || cfg.Height != browsertest.DesktopHeight {
		t.Errorf("screenshot is %d×%d, want the viewport, %d×%d", cfg.Width, cfg.Height, browsertest.DesktopWidth, browsertest.DesktopHeight)
	}
	browsertest.NoConsoleErrors(t, ctx)
}

// TestInlineScriptIsReportedAsCSPViolation checks that the collector sees
// CSP violations: an inline script and an inline style attribute.
func TestInlineScriptIsReportedAsCSPViolation(t *testing.T) {
	base := serve(t)
	ctx := browsertest.New(t)

	browsertest.Navigate(t, ctx, base+"/inline")
	ran, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("ran").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if ran != "no" {
		t.Errorf("the inline script ran (#ran = %q) despite the CSP", ran)
	}
	errs := browsertest.ConsoleErrors(ctx)
	for _, directive := range []string{"script-src", "style-src"} {
		if !slices.ContainsFunc(errs, func(e string) bool {
			return strings.Contains(e, "Content Security Policy directive '"+directive)
		}) {
			t.Errorf("no %s violation among the console errors %q", directive, errs)
		}
	}
	for _, e := range errs {
		t.Logf("reported: %s", e)
	}
}

func TestConsoleErrorsAndExceptions(t *testing.T) {
	base := serve(t)
	ctx := browsertest.New(t)

	browsertest.Navigate(t, ctx, base+"/errors")
	errs := browsertest.ConsoleErrors(ctx)
	want := []string{
		"console.error: boom 42 (" + base + "/errors.js:2)",
		"exception: Uncaught TypeError: broken script (" + base + "/errors.js:3)",
	}
	if !slices.Equal(errs, want) {
		t.Errorf("console errors:\n%q\nwant\n%q", errs, want)
	}
}

// TestPhone checks the phone viewport and the way back to the desktop's.
func TestPhone(t *testing.T) {
	base := serve(t)
	ctx := browsertest.New(t)

	browsertest.Phone(t, ctx)
	browsertest.Navigate(t, ctx, base+"/")
	browsertest.WaitText(t, ctx, "#status", "all green", 10*time.Second)
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.innerWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if width != browsertest.PhoneWidth {
		t.Errorf("window.innerWidth = %d, want %d", width, browsertest.PhoneWidth)
	}
	cfg := decodePNG(t, browsertest.Screenshot(t, ctx, t.Name()))
	if want := browsertest.PhoneWidth * browsertest.PhoneScale; cfg.Width != want {
		t.Errorf("phone screenshot is %d px wide, want %d", cfg.Width, want)
	}

	browsertest.Desktop(t, ctx)
	if width, err = chromedp.Run(ctx, chromedp.Evaluate[int](`window.innerWidth`)); err != nil {
		t.Fatal(err)
	}
	if width != browsertest.DesktopWidth {
		t.Errorf("back on the desktop: window.innerWidth = %d, want %d", width, browsertest.DesktopWidth)
	}
}

// TestNoProcessLeftAfterTest checks that the cleanup of New ends the browser
// and all its descendants (zygotes, renderers, utility processes).
func TestNoProcessLeftAfterTest(t *testing.T) {
	var pids []int
	t.Run("browser", func(t *testing.T) {
		ctx := browsertest.New(t)
		browsertest.Navigate(t, ctx, serve(t)+"/")
		pids = descendants(chromedp.FromContext(ctx).Browser.Process().Pid)
		if len(pids) < 2 {
			t.Fatalf("found %d browser processes, want the browser and its children", len(pids))
		}
	})
	// A killed child of Chromium is a zombie until init reaps it: dead.
	for _, pid := range pids {
		if state, _, err := procStat(pid); err == nil && state != "Z" && state != "X" {
			cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
			t.Errorf("process %d (state %s) is left after the test: %s", pid, state, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		}
	}
}

func TestChromiumNotFound(t *testing.T) {
	t.Setenv(browsertest.ChromiumEnv, "")
	t.Setenv("PATH", t.TempDir())
	if path, err := browsertest.Chromium(); err == nil {
		t.Errorf("Chromium() = %s with an empty PATH, want an error", path)
	}

	t.Setenv(browsertest.ChromiumEnv, filepath.Join(t.TempDir(), "chromium"))
	if _, err := browsertest.Chromium(); err == nil || !strings.Contains(err.Error(), browsertest.ChromiumEnv) {
		t.Errorf("Chromium() with a missing %s: error %v, want one naming it", browsertest.ChromiumEnv, err)
	}

	t.Setenv(browsertest.ChromiumEnv, "")
	t.Setenv("WINDFLOW_REQUIRE_STACK", "")
	var sub *testing.T
	t.Run("skips", func(t *testing.T) {
		sub = t
		browsertest.New(t)
		t.Error("New did not skip without a Chromium")
	})
	if !sub.Skipped() {
		t.Error("New without a Chromium: the test was not skipped")
	}
}

// decodePNG checks that the file is a non-empty PNG and returns its size.
func decodePNG(t *testing.T, path string) image.Config {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s (%d bytes) is not a PNG: %v", path, len(data), err)
	}
	if c.Width == 0 || c.Height == 0 {
		t.Fatalf("%s is an empty %d×%d image", path, c.Width, c.Height)
	}
	return c
}

// descendants returns pid and the processes below it, from /proc.
func descendants(pid int) []int {
	parents := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if p, err := strconv.Atoi(e.Name()); err == nil {
			if _, ppid, err := procStat(p); err == nil {
				parents[p] = ppid
			}
		}
	}
	found := []int{pid}
	for i := 0; i < len(found); i++ {
		for p, parent := range parents {
			if parent == found[i] {
				found = append(found, p)
			}
		}
	}
	return found
}

// procStat returns the state (R, S, Z…) and the parent of a process.
func procStat(pid int) (state string, ppid int, err error) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, err
	}
	// "pid (comm) state ppid ...": comm can hold spaces and parentheses.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 2 {
		return "", 0, fmt.Errorf("/proc/%d/stat: %q", pid, stat)
	}
	ppid, err = strconv.Atoi(fields[1])
	return fields[0], ppid, err
}
