package runner

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/qbridge/qbridge/shared/alisqi"
)

var update = flag.Bool("update", false, "rewrite testdata/console.png")

// chromium finds Debian's Chromium, which .ci/run installs.
func chromium(t *testing.T) string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: .ci/run installs Debian's chromium package")
	}
	t.Skip("chromium not installed (apt-get install chromium): the console test needs a browser")
	return ""
}

// TestConsoleReplaysADeadLetter drives the console in headless Chromium:
// the page loads from qbridge run, shows a dead letter, and replaying it
// through the UI (with a reason) applies it and audits who did it.
func TestConsoleReplaysADeadLetter(t *testing.T) {
	exe := chromium(t)
	r := start(t, t.TempDir())
	defer r.Close(context.Background())
	call(t, "POST", r.URL+"/sandbox/acme-bc/bc/items", "", `{"number":"1896-S","displayName":"ATHENS Desk","type":"Inventory","baseUnitOfMeasureCode":"PCS"}`)
	call(t, "POST", r.URL+"/sandbox/acme-bc/bc/vendors", "", `{"number":"V0020","displayName":"Contoso","city":"Utrecht","country":"be"}`)
	eventually(t, "a dead letter", func() bool {
		_, b := call(t, "GET", r.URL+"/ops/deadletters", "test-token", "")
		return bytes.Contains(b, []byte(`"entity":"vendors"`))
	})

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()

	if err := chromedp.Do(ctx,
		chromedp.Navigate(r.URL+"/ops/console#token=test-token"),
		chromedp.WaitVisible(chromedp.CSS(`button[data-replay]`)),
	); err != nil {
		t.Fatalf("loading the console: %v", err)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#status`)))
	if err != nil {
		t.Fatal(err)
	}
	reason, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#deadletters .reason`)))
	if err != nil {
		t.Fatal(err)
	}
	if status != "attention needed" || !strings.Contains(reason, `Option "BE" is not valid for field country_`) {
		t.Errorf("console shows status %q, reason %q", status, reason)
	}
	if *update {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "..", "..", "testdata", "console.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The operator fixes AlisQI's country list, then replays from the page.
	r.Sandboxes["acme-bc"].AlisQI.AddSet(alisqi.SetDefinition{ID: 102}, "measurementSet")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#reason`), "Belgium added to the country list"),
		chromedp.Click(chromedp.CSS(`button[data-replay]`)),
		chromedp.WaitVisible(chromedp.Search(`//span[@id="message"][contains(., "replayed by local:operator")]`)),
	); err != nil {
		t.Fatalf("replaying from the console: %v", err)
	}
	eventually(t, "the replayed vendor in AlisQI", func() bool {
		_, b := call(t, "GET", r.URL+"/sandbox/acme-bc/alisqi/102", "", "")
		return bytes.Contains(b, []byte(`"supplier_no_":"V0020"`)) && bytes.Contains(b, []byte(`"country_":"BE"`))
	})
	_, audit := call(t, "GET", r.URL+"/ops/audit", "test-token", "")
	if !bytes.Contains(audit, []byte(`"outcome":"replayed"`)) || !bytes.Contains(audit, []byte(`"detail":"Belgium added to the country list"`)) {
		t.Errorf("the replay is not in the audit trail: %s", audit)
	}
	// The page shows the healthy state after its refresh.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#refresh`)),
		chromedp.WaitVisible(chromedp.Search(`//span[@id="status"][text()="healthy"]`))); err != nil {
		t.Errorf("the console did not turn healthy: %v", err)
	}
}
