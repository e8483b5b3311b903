// Reads a feed's mirror (GET /api/feeds/{id}/mirror.rss) with rss-parser, an RSS reader from
// npm that knows nothing of podfleet, beside the original feed: the channel and items must be the
// same, podcast:locked and podcast:guid kept, and each episode with a transcript must list VTT,
// SRT and JSON <podcast:transcript> links; each link is fetched and parsed (VTT and SRT with
// the npm package subtitle, JSON as Podcasting 2.0 JSON) and must hold the transcript's text.
// Usage: node mirror.js SERVER_URL ORIGINAL_FEED_URL FEED_ID WITH_TRANSCRIPT_GUIDS...
"use strict";

const Parser = require("rss-parser");
const { parseSync } = require("subtitle");
const { fail, main } = require("../lib/browser.js");

const [server, original, feed, ...withTranscripts] = process.argv.slice(2);

const parser = new Parser({
  customFields: {
    feed: ["podcast:locked", "podcast:guid"],
    item: [["podcast:transcript", "transcripts", { keepArray: true }]],
  },
});

async function text(url) {
  const r = await fetch(url);
  if (!r.ok) fail(`${url}: HTTP ${r.status}`);
  return r.text();
}

function same(what, a, b) {
  if (JSON.stringify(a) !== JSON.stringify(b)) fail(`${what} differs: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
}

const ours = (item) => (item.transcripts || []).map((t) => t.$).filter((l) => l.url.startsWith(server));

async function checkLinks(item) {
  const links = ours(item);
  same(`${item.guid}: transcript types`, links.map((l) => l.type),
       ["text/vtt", "application/x-subrip", "application/json"]);
  same(`${item.guid}: rel`, links.map((l) => l.rel || ""), ["captions", "captions", ""]);
  const parsed = {};
  for (const link of links) {
    if (!link.url.startsWith(`${server}/api/episodes/`)) fail(`not a podfleet URL: ${link.url}`);
    const body = await text(link.url);
    parsed[link.type] = link.type === "application/json"
      ? JSON.parse(body).segments.map((s) => ({ start: Math.round(s.startTime * 1000), text: s.body }))
      : parseSync(body).filter((n) => n.type === "cue").map((n) => n.data);
  }
  const json = parsed["application/json"];
  if (!json.length) fail(`${item.guid}: an empty JSON transcript`);
  for (const type of ["text/vtt", "application/x-subrip"]) {
    same(`${item.guid}: ${type} cue starts`, parsed[type].map((c) => c.start), json.map((c) => c.start));
    parsed[type].forEach((c, i) => {
      if (!c.text.replace(/\s+/g, " ").includes(json[i].text)) fail(`${type} cue ${i}: '${c.text}' lacks '${json[i].text}'`);
    });
  }
  console.log(`ok: ${item.guid}: its VTT, SRT and JSON links parse to the same ${json.length} cues ` +
              `(${json.map((c) => `${c.start / 1000} s ${c.text}`).join(" | ")})`);
}

main(async () => {
  const mirror = await parser.parseString(await text(`${server}/api/feeds/${feed}/mirror.rss`));
  const source = await parser.parseString(await text(original));
  for (const key of ["title", "link", "language", "description", "podcast:locked", "podcast:guid"])
    same(`channel ${key}`, mirror[key], source[key]);
  if (!mirror["podcast:guid"]) fail("the test feed has no podcast:guid to keep");
  same("items", mirror.items.map(({ transcripts, ...rest }) => rest),
       source.items.map(({ transcripts, ...rest }) => rest));
  mirror.items.forEach((item, i) => same(`${item.guid}: the publisher's own transcript tags`,
    (item.transcripts || []).map((t) => t.$).filter((l) => !l.url.startsWith(server)),
    (source.items[i].transcripts || []).map((t) => t.$)));
  for (const item of mirror.items) {
    if (withTranscripts.includes(item.guid)) await checkLinks(item);
    else if (ours(item).length) fail(`${item.guid} has no transcript yet links one`);
  }
  console.log(`ok: the mirror has the original channel and ${mirror.items.length} items, ` +
              `podcast:locked ${mirror["podcast:locked"]} and podcast:guid kept`);
});
