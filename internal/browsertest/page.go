package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The viewport of Phone, in CSS pixels, and its device pixel ratio (an
// iPhone 12 to 14).
const (
	PhoneWidth  = 390
	PhoneHeight = 844
	PhoneScale  = 3
)

// Navigate loads url in the tab and waits for its load event, failing the
// test if it does not load.
func Navigate(t testing.TB, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("browsertest: navigating to %s: %v", url, err)
	}
}

// Desktop makes the tab's viewport DesktopWidth×DesktopHeight, as New
// leaves it (the window is that size too, but headless Chromium keeps part
// of it for a window frame).
func Desktop(t testing.TB, ctx context.Context) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(DesktopWidth, DesktopHeight)); err != nil {
		t.Fatalf("browsertest: desktop viewport: %v", err)
	}
}

// Phone makes the tab's viewport a phone's: PhoneWidth×PhoneHeight at
// PhoneScale, portrait, mobile, with touch. As on a phone, a page without
// <meta name="viewport" content="width=device-width"> is laid out 980 px
// wide. Desktop undoes it.
func Phone(t testing.TB, ctx context.Context) {
	t.Helper()
	err := chromedp.Do(ctx, chromedp.EmulateViewport(PhoneWidth, PhoneHeight,
		chromedp.EmulateScale(PhoneScale), chromedp.EmulatePortrait,
		chromedp.EmulateMobile, chromedp.EmulateTouch))
	if err != nil {
		t.Fatalf("browsertest: phone viewport: %v", err)
	}
}

// unsafeName matches what Screenshot replaces in a name, so that a name
// like t.Name() ("TestX/phone") makes one file name.
var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Screenshot saves a PNG of the whole page (beyond the viewport) to
// .data/screenshots/<name>.png in the repository, logs that path and
// returns it. Characters of name other than letters, digits, '.', '_' and
// '-' become '_'.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	dir := filepath.Join(root, ".data", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, unsafeName.ReplaceAllString(name, "_")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

// repoRoot returns the nearest directory holding go.mod, from the working
// directory (a test's is its package directory) up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the repository: no go.mod above the working directory")
		}
		dir = parent
	}
}

// pollInterval is how often WaitText reads the page.
const pollInterval = 50 * time.Millisecond

// WaitText waits up to timeout for the text content of the first element
// matching the CSS selector to contain substring, and returns that text.
// Otherwise it fails the test with what it saw last: the text, "no
// element", or an error of the page (one during a navigation is retried).
func WaitText(t testing.TB, ctx context.Context, selector, substring string, timeout time.Duration) string {
	t.Helper()
	quoted, err := json.Marshal(selector)
	if err != nil {
		t.Fatalf("browsertest: WaitText: %v", err)
	}
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%s); return e ? e.textContent : null })()`, quoted)
	deadline := time.Now().Add(timeout)
	for {
		var last string
		text, err := chromedp.Run(ctx, chromedp.Evaluate[*string](expr))
		switch {
		case err != nil:
			last = "error: " + err.Error()
		case text == nil:
			last = "no element"
		case strings.Contains(*text, substring):
			return *text
		default:
			last = fmt.Sprintf("text %q", *text)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("browsertest: %s did not contain %q within %v; last seen: %s", selector, substring, timeout, last)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pollInterval):
		}
	}
}
