// The dashboard's "Pods on demand" panel in Debian's chromium (playwright-core): pods by state,
// spend and the decisions must show while the autoscaler runs; saves a screenshot.
// Usage: node check.js SERVER_URL SCREENSHOT_PATH
"use strict";

const { chromium } = require("playwright-core");

const [server, screenshot] = process.argv.slice(2);
const executablePath = process.env.PODFLEET_CHROMIUM || "/usr/lib/chromium/chromium";

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

(async () => {
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1600 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(server + "/", { waitUntil: "load" });
    await page.waitForFunction(() => !document.getElementById("pods").hidden &&
                               document.querySelectorAll("#pods-table tbody tr").length >= 2,
                               null, { timeout: 20000 });
    const rows = (await page.locator("#pods-table tbody tr").allInnerTexts()).join(" | ");
    if (!/RTX A5000/.test(rows) || !/(working|registered)/.test(rows))
      fail(`no working A5000 pod in the panel: ${rows}`);
    if (!/RTX A5000 \(community\)/.test(rows)) fail(`the A5000 pods' cloud is not shown: ${rows}`);
    if (!/did not register within the setup deadline/.test(rows))
      fail(`the failed pod's reason is not shown: ${rows}`);
    const summary = await page.locator("#pods-summary").innerText();
    if (!/spend per hour\s*\$0\.\d+ of \$0\.70/.test(summary)) fail(`spend per hour missing: ${summary}`);
    const decisions = await page.locator("#pods-decisions li").allInnerTexts();
    if (!decisions.some((d) => /created podfleet-auto-/.test(d) || /want \d pod/.test(d)))
      fail(`no decisions shown: ${decisions.join(" | ")}`);
    if (errors.length) fail(`page errors: ${errors.join("; ")}`);
    await page.locator("#pods").screenshot({ path: screenshot });
    console.log(`ok: pods panel: ${rows.split("|").length} pods, ${decisions.length} decisions`);
  } finally {
    await browser.close();
  }
})().catch((e) => fail(e.message));
