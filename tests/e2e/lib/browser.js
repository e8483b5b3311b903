// Shared by the browser scenarios (tests/e2e/dashboard, tests/e2e/pages): Debian's chromium
// through playwright-core, and a failure that exits non-zero with the reason.
"use strict";

const { chromium } = require("playwright-core");

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

async function launch() {
  const executablePath = process.env.PODFLEET_CHROMIUM || "/usr/lib/chromium/chromium";
  return chromium.launch({ executablePath, args: ["--no-sandbox"] });
}

async function cellText(page, selector) {
  return (await page.locator(selector).allInnerTexts()).join(" | ");
}

// Runs `body` (async) and reports any exception as a failure.
function main(body) {
  body().catch((e) => fail(e.stack || String(e)));
}

module.exports = { fail, launch, cellText, main };
