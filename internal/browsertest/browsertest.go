// Package browsertest gives Go tests a real headless Chromium, driven with
// chromedp: New starts one browser per call and returns the context of its
// tab, which every chromedp action and every helper of this package takes.
//
// The browser is the one WINDFLOW_CHROMIUM names (scripts/stack.sh installs
// Debian's chromium and exports it in .data/stack.env), else chromium or
// chromium-browser on PATH. Without one, tests are skipped, unless
// WINDFLOW_REQUIRE_STACK=1 (CI), where they fail.
//
// Every tab records what the page reports as an error from its first
// command on: console.error calls, uncaught exceptions and error entries of
// the browser log, among them Content-Security-Policy violations. Read them
// with ConsoleErrors, or assert there are none with NoConsoleErrors.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// ChromiumEnv is the environment variable holding the absolute path of the
// Chromium binary.
const ChromiumEnv = "WINDFLOW_CHROMIUM"

// The window size of a new browser, in CSS pixels.
const (
	DesktopWidth  = 1280
	DesktopHeight = 900
)

// Chromium returns the Chromium binary the tests use: WINDFLOW_CHROMIUM
// (an error if it is not executable), else chromium or chromium-browser on
// PATH.
func Chromium() (string, error) {
	if path := os.Getenv(ChromiumEnv); path != "" {
		if _, err := exec.LookPath(path); err != nil {
			return "", fmt.Errorf("%s=%s: %w", ChromiumEnv, path, err)
		}
		return path, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", errNoChromium
}

var errNoChromium = errors.New(ChromiumEnv + " is not set and neither chromium nor chromium-browser is on PATH (scripts/stack.sh installs it)")

// New starts a headless Chromium with a temporary profile and returns the
// context of its tab, with a DesktopWidth×DesktopHeight viewport. When the
// test ends the browser is killed, with every child process, and its
// profile removed. Without a Chromium (see Chromium) the test is skipped,
// or fails when WINDFLOW_REQUIRE_STACK=1; a WINDFLOW_CHROMIUM that is not
// executable, or a Chromium that does not start, fails it.
func New(t testing.TB) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a test that needs Chromium")
	}
	path, err := Chromium()
	if errors.Is(err, errNoChromium) {
		if os.Getenv("WINDFLOW_REQUIRE_STACK") == "1" {
			t.Fatalf("browsertest: Chromium required (WINDFLOW_REQUIRE_STACK=1): %v", err)
		}
		t.Skipf("skipping a browser test: %v", err)
	}
	if err != nil {
		t.Fatalf("browsertest: %v", err)
	}

	// No UserDataDir option: chromedp then makes a temporary profile and,
	// on exit, kills the processes that still use it and removes it.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(DesktopWidth, DesktopHeight),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	console := &consoleLog{}
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(console.record))
	t.Cleanup(func() {
		// Both wait: for the browser process to exit, then for the
		// allocator to kill leftover children and remove the profile.
		cancelTab()
		cancelAlloc()
	})
	// The first run starts the browser; it must not have a deadline (see
	// chromedp.NewContext), the tab lives until the cleanup.
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("browsertest: starting %s: %v", path, err)
	}
	ctx := context.WithValue(tabCtx, consoleLogKey{}, console)
	Desktop(t, ctx)
	return ctx
}
