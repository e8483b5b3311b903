// Drives Debian's chromium (playwright-core) through the pages for people against a running
// coordinator (see run): feeds (add, refused without the token, bad feed, refresh, remove),
// a feed's episodes, an episode's transcript (click a segment: the audio element seeks there;
// downloads in every format), search (a hit lands on its moment), transcribe again and delete.
// Every change is checked against the JSON API too. Saves pages-*.png in SHOT_DIR.
// Usage: node check.js SERVER_URL SHOT_DIR ADMIN_TOKEN ORIGIN_URL
"use strict";

const { fail, launch, cellText, main } = require("../lib/browser.js");

const [server, shots, admin, origin] = process.argv.slice(2);
const ok = (what) => console.log(`ok: ${what}`);

async function apiGet(path) {
  const r = await fetch(server + path);
  return { status: r.status, body: r.headers.get("content-type").includes("json") ? await r.json() : await r.text() };
}

async function message(page, pattern) {
  await page.waitForFunction((p) => new RegExp(p).test(document.getElementById("message").textContent),
                             pattern.source, { timeout: 15000 })
    .catch(async () => fail(`message never matched ${pattern}: ` +
                            `${await page.locator("#message").textContent()}`));
  return page.locator("#message").textContent();
}

async function checkFeeds(page) {
  await page.goto(`${server}/feeds`);
  await page.waitForSelector("#feeds tbody tr[data-feed]");
  if (await page.locator("#admin-form").isHidden()) fail("no admin token form on a fresh tab");
  await page.fill("#feed-url", `${origin}/transcripts.xml`);
  await page.click("#add-feed button");
  await message(page, /refused/);
  ok(`adding without the admin token is refused: ${await page.locator("#message").textContent()}`);
  await page.fill("#admin-token", admin);
  await page.click("#admin-form button");
  await page.fill("#feed-url", `${origin}/transcripts.xml`);
  await page.click("#add-feed button");
  ok(await message(page, /added Podfleet Test Podcast: 3 episode/));
  await page.fill("#feed-url", `${origin}/malformed.xml`);
  await page.click("#add-feed button");
  const bad = await message(page, /add feed: .+/);
  if ((await page.locator("#message").getAttribute("class")) !== "alert") fail("a bad feed is not an alert");
  ok(`a malformed feed says why: ${bad}`);
  const second = page.locator("#feeds tbody tr", { hasText: "Second Podcast" });
  await second.getByRole("button", { name: "Remove" }).click();
  await page.waitForFunction(() => !/Second Podcast/.test(document.querySelector("#feeds tbody").textContent));
  const { body } = await apiGet("/api/feeds");
  if (body.feeds.length !== 1 || body.feeds[0].title !== "Podfleet Test Podcast")
    fail(`the API disagrees after remove: ${JSON.stringify(body.feeds)}`);
  const row = page.locator("#feeds tbody tr", { hasText: "Podfleet Test Podcast" });
  await row.getByRole("button", { name: "Refresh" }).click();
  ok(await message(page, /refreshed: 0 new episode/));
  const cells = await cellText(page, "#feeds tbody tr");
  if (!/3/.test(cells) || !/UTC/.test(cells) || !/none/.test(cells)) fail(`feed row: ${cells}`);
  ok(`feeds: ${cells.replace(/\s+/g, " ")}`);
  await page.screenshot({ path: `${shots}/pages-feeds.png`, fullPage: true });
  await row.locator("a").first().click();
  return body.feeds[0].id;
}

async function checkEpisodes(page, feed) {
  await page.waitForURL(`${server}/feeds/${feed}`);
  await page.waitForFunction(() => document.querySelectorAll("#episodes tbody tr").length === 3);
  const { body } = await apiGet(`/api/episodes?feed=${feed}`);
  const id = (n) => body.episodes.find((e) => e.guid === `podfleet-test-ep${n}`).id;
  const ids = { ep1: id(1), ep2: id(2), ep3: id(3) };
  const row = (e) => page.locator(`#episodes tr[data-episode="${ids[e]}"]`);
  const ep1 = await row("ep1").innerText();
  if (!/done/.test(ep1) || !/publisher/.test(ep1) || !/2026-08-03/.test(ep1) || !/0:00:1\d/.test(ep1))
    fail(`ep1 row: ${ep1}`);
  const ep2 = await row("ep2").innerText();
  if (!/queued/.test(ep2) || !/missing\.vtt.*404/.test(ep2)) fail(`ep2 row (fallback reason): ${ep2}`);
  if (!(await row("ep1").getByRole("button", { name: "Transcribe again" }).count()))
    fail("a done episode offers no 'Transcribe again'");
  for (const link of ["mirror", "export-zip", "export-tar"]) {
    const response = await page.request.get(server + await page.locator(`#feed-links a.${link}`).getAttribute("href"));
    if (!response.ok()) fail(`the feed page's ${link} link: HTTP ${response.status()}`);
  }
  ok(`episodes: ${(await cellText(page, "#episodes tbody tr")).replace(/\s+/g, " ")}`);
  await page.screenshot({ path: `${shots}/pages-feed.png`, fullPage: true });
  return ids;
}

async function segmentTime(page) {
  return page.evaluate(() => document.getElementById("player").currentTime);
}

async function checkTranscript(page, ids) {
  await page.goto(`${server}/episodes/${ids.ep1}`);
  await page.waitForFunction(() => document.querySelectorAll("#transcript li").length === 3);
  const lines = await cellText(page, "#transcript li");
  if (!/0:00:00\s*Host\s*Welcome to the amiable otter hour\./.test(lines) ||
      !/0:00:04\s*Guest\s*Thank you, rivers/.test(lines)) fail(`transcript lines: ${lines}`);
  if ((await page.locator("#player").getAttribute("src")) !== `${origin}/ep1.mp3`)
    fail("the player does not use the episode's original audio URL");
  await page.waitForFunction(() => document.getElementById("player").readyState >= 1, null,
                             { timeout: 15000 });
  await page.locator("#transcript li").nth(1).click();
  await page.waitForFunction(() => document.getElementById("player").currentTime >= 4);
  const t = await segmentTime(page);
  if (t > 6) fail(`clicking the 0:00:04 segment left the audio at ${t}`);
  if ((await page.locator("#transcript li.current").getAttribute("data-start")) !== "4")
    fail("the clicked segment is not marked current");
  ok(`clicking the 0:00:04 segment plays the original audio from ${t.toFixed(2)} s`);
  const want = { txt: /Host: Welcome to the amiable otter hour\./, srt: /00:00:04,000 --> 00:00:09,500/,
                 vtt: /^WEBVTT[\s\S]*00:00:04\.000 --> 00:00:09\.500/, json: /"startTime":\s*4/,
                 md: /amiable otter hour/ };
  for (const [format, pattern] of Object.entries(want)) {
    const link = page.locator(`#downloads a.download-${format}`);
    const response = await page.request.get(server + (await link.getAttribute("href")));
    const text = await response.text();
    if (!response.ok() || !pattern.test(text)) fail(`download ${format}: ${response.status()} ${text}`);
    if (format === "json" && JSON.parse(text).segments.length !== 3) fail("JSON download segments");
  }
  ok("downloads: txt, srt, vtt, json, md");
  await page.screenshot({ path: `${shots}/pages-episode.png`, fullPage: true });
}

async function checkSearch(page, ids) {
  await page.goto(`${server}/search`);
  await page.fill("#search-q", "rivers lovely");
  await page.click("#search-form button");
  await page.waitForSelector("#hits li");
  const hit = page.locator("#hits li").first();
  if ((await hit.locator("mark").allInnerTexts()).join(" ") !== "rivers lovely")
    fail(`highlight: ${await hit.innerHTML()}`);
  if (!/0:00:04/.test(await hit.innerText())) fail(`hit time: ${await hit.innerText()}`);
  if (!/\/search\?q=rivers/.test(page.url())) fail(`the search is not in the URL: ${page.url()}`);
  await page.screenshot({ path: `${shots}/pages-search.png`, fullPage: true });
  await hit.locator("a.hit").click();
  await page.waitForURL(`${server}/episodes/${ids.ep1}#t=4`);
  await page.waitForFunction(() => document.querySelector("#transcript li.current"));
  const at = await segmentTime(page);
  const current = await page.locator("#transcript li.current .text").innerText();
  if (at !== 4 || !/rivers are lovely/.test(current)) fail(`the hit landed at ${at}: ${current}`);
  ok(`the hit for "rivers lovely" lands on episode ${ids.ep1} at ${at} s: ${current}`);
  await page.goBack();
  await page.waitForSelector("#hits li");
}

async function checkChanges(page, feed, ids) {
  await page.goto(`${server}/feeds/${feed}`);
  const row = (e) => page.locator(`#episodes tr[data-episode="${ids[e]}"]`);
  await row("ep1").getByRole("button", { name: "Transcribe again" }).click();
  await page.waitForSelector(`#episodes tr[data-episode="${ids.ep1}"][data-state="queued"]`);
  const again = await apiGet(`/api/episodes/${ids.ep1}`);
  const kept = await apiGet(`/api/episodes/${ids.ep1}/transcript?format=txt`);
  if (again.body.state !== "queued" || !/amiable/.test(kept.body))
    fail(`transcribe again: ${again.body.state}, transcript ${kept.status}`);
  ok("transcribe again queues the episode and keeps its transcript meanwhile");
  await row("ep3").getByRole("button", { name: "Delete" }).click();
  await page.waitForFunction(() => document.querySelectorAll("#episodes tbody tr").length === 2);
  const gone = await apiGet(`/api/episodes/${ids.ep3}`);
  const found = await apiGet("/api/search?q=cheese");
  if (gone.status !== 404 || found.body.hits.length !== 0)
    fail(`after delete: episode ${gone.status}, ${found.body.hits.length} search hit(s)`);
  ok("delete removes the row; the API answers 404 and search no longer finds it");
}

async function phone(browser, feed, ids) {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
  await page.goto(`${server}/feeds/${feed}`);
  await page.waitForSelector("#episodes tbody tr");
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > 390) fail(`the episodes page is ${width} px wide on a 390 px phone`);
  await page.screenshot({ path: `${shots}/pages-feed-phone.png`, fullPage: true });
  await page.goto(`${server}/episodes/${ids.ep1}`);
  await page.waitForSelector("#transcript li");
  const width2 = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width2 > 390) fail(`the transcript page is ${width2} px wide on a 390 px phone`);
  await page.screenshot({ path: `${shots}/pages-episode-phone.png`, fullPage: true });
  ok("phone width: no sideways scrolling on the episodes and transcript pages");
}

main(async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("dialog", (d) => d.accept());
    const feed = await checkFeeds(page);
    const ids = await checkEpisodes(page, feed);
    await checkTranscript(page, ids);
    await checkSearch(page, ids);
    await checkChanges(page, feed, ids);
    await phone(browser, feed, ids);
    if (errors.length) fail(`page errors: ${errors.join("; ")}`);
  } finally {
    await browser.close();
  }
});
