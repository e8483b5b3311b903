// Drives Debian's chromium (through playwright-core from npm) against a running coordinator's
// dashboard: live nodes and numbers must appear and change without a reload; saves a screenshot.
// With the admin token it also shows the join line under "Add a worker".
// Usage: node check.js SERVER_URL SCREENSHOT_PATH ADMIN_TOKEN
"use strict";

const { fail, launch, cellText, main } = require("../lib/browser.js");

const [server, screenshot, admin] = process.argv.slice(2);

main(async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(server + "/", { waitUntil: "load" });

    await page.waitForFunction(() => document.querySelectorAll("#nodes tbody tr").length >= 3,
                               null, { timeout: 30000 });
    const nodes = await cellText(page, "#nodes tbody tr");
    for (const name of ["pod-a", "pod-b", "laptop"])
      if (!nodes.includes(name)) fail(`node ${name} missing from the table: ${nodes}`);
    console.log(`ok: nodes shown: ${nodes.replace(/\s+/g, " ")}`);

    const done = () => page.locator('#queue dd[data-key="done"]').innerText();
    const firstDone = Number(await done());
    const firstStamp = await page.locator("#updated").getAttribute("data-at");
    await page.waitForFunction((n) => {
      const dd = document.querySelector('#queue dd[data-key="done"]');
      return dd && Number(dd.textContent) > n;
    }, firstDone, { timeout: 60000 });
    const laterStamp = await page.locator("#updated").getAttribute("data-at");
    if (laterStamp === firstStamp) fail("the update time did not change");
    console.log(`ok: done went from ${firstDone} to ${await done()} without a reload`);

    await page.waitForFunction(() => /RTX A5000/.test(
      document.querySelector("#economics tbody")?.textContent || ""), null, { timeout: 60000 });
    await page.waitForFunction(() => /busy/.test(
      document.querySelector("#nodes tbody")?.textContent || ""), null, { timeout: 30000 });
    // A node's current job is named by its episode's title, not only its number.
    await page.waitForFunction(() => /#\d+ episode \d+/.test(
      document.querySelector("#nodes tbody")?.textContent || ""), null, { timeout: 30000 });
    const speed = await page.locator("#nodes tbody tr td.speed").first().innerText();
    if (!/x$/.test(speed)) fail(`no speed shown: ${speed}`);
    if (!(await page.locator("#chart canvas").count())) fail("the throughput chart was not drawn");
    const alerts = await cellText(page, "#alerts .alert");
    if (!/blocked/.test(alerts)) fail(`the blocked GPU raised no alert: ${alerts}`);
    const economics = await cellText(page, "#economics tbody tr");
    console.log(`ok: economics: ${economics.replace(/\s+/g, " ")}`);
    console.log(`ok: alerts: ${alerts}`);
    await page.fill("#join-admin", "pfa_wrong");
    await page.click("#join-form button");
    await page.waitForFunction(() => /Refused/.test(
      document.querySelector("#join-status")?.textContent || ""), null, { timeout: 10000 });
    await page.fill("#join-admin", admin);
    await page.click("#join-form button");
    await page.waitForFunction(() => /podfleet work --server http/.test(
      document.querySelector("#join-lines pre")?.textContent || ""), null, { timeout: 10000 });
    const line = await page.locator("#join-lines pre").first().innerText();
    if (!/\/api\/worker\/bundle\/cpu/.test(line) || !/--token pfe_/.test(line))
      fail(`join line incomplete: ${line}`);
    console.log("ok: the join line is shown for the admin token, refused for a wrong one");
    if (errors.length) fail(`page errors: ${errors.join("; ")}`);
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`ok: screenshot saved to ${screenshot}`);
  } finally {
    await browser.close();
  }
});
