// podfleet mcp, driven by the official MCP client (@modelcontextprotocol/sdk) over both
// transports: stdio (the client starts `podfleet mcp`) and streamable HTTP (`podfleet mcp
// --listen`, started by run). Lists the tools and calls each against the running coordinator,
// checking the answers against its JSON API.
// Usage: node mcp.js PODFLEET SERVER_URL DATA_DIR MCP_HTTP_URL FEED_ID
"use strict";

const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StdioClientTransport } = require("@modelcontextprotocol/sdk/client/stdio.js");
const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");
const { fail, main } = require("../lib/browser.js");

const [podfleet, server, data, httpUrl, feed] = process.argv.slice(2);

async function api(path) {
  const r = await fetch(server + path);
  return r.json();
}

function text(result) {
  return result.content.map((c) => c.text).join("\n");
}

async function exercise(client, name) {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  const want = ["list_episodes", "list_feeds", "queue_episode", "read_transcript", "search_transcripts"];
  if (JSON.stringify(names) !== JSON.stringify(want)) fail(`${name}: tools ${names}`);

  const feeds = await client.callTool({ name: "list_feeds", arguments: {} });
  if (feeds.isError || !/Podfleet Test Podcast/.test(text(feeds))) fail(`${name}: list_feeds: ${text(feeds)}`);

  const { episodes } = await api(`/api/episodes?feed=${feed}`);
  const listed = await client.callTool({ name: "list_episodes", arguments: { feed: Number(feed) } });
  const ids = listed.structuredContent.episodes.map((e) => e.id).sort();
  if (JSON.stringify(ids) !== JSON.stringify(episodes.map((e) => e.id).sort()))
    fail(`${name}: list_episodes ${ids} vs the API's ${episodes.map((e) => e.id)}`);

  const found = await client.callTool({ name: "search_transcripts", arguments: { query: "rivers lovely" } });
  const hit = found.structuredContent.hits[0];
  if (!hit || hit.start_ms !== 4000 || !/rivers are lovely/.test(hit.snippet))
    fail(`${name}: search: ${text(found)}`);

  const range = await client.callTool({ name: "read_transcript",
    arguments: { episode: hit.episode, start_seconds: 4, end_seconds: 9 } });
  if (text(range).trim() !== "[0:00:04] Guest: Thank you, rivers are lovely this time of year.")
    fail(`${name}: read_transcript 4-9 s: ${text(range)}`);
  const whole = await client.callTool({ name: "read_transcript", arguments: { episode: hit.episode } });
  if (whole.structuredContent.segments.length !== 3) fail(`${name}: read_transcript whole: ${text(whole)}`);

  const missing = await client.callTool({ name: "read_transcript", arguments: { episode: 999999 } });
  if (!missing.isError) fail(`${name}: an unknown episode is not an error: ${text(missing)}`);
  console.log(`ok: ${name}: 5 tools listed; feeds, episodes, search (episode ${hit.episode} at ` +
              `${hit.start_ms / 1000} s), a transcript range, an unknown episode refused`);
  return hit.episode;
}

main(async () => {
  const stdio = new Client({ name: "podfleet-e2e", version: "1.0.0" });
  await stdio.connect(new StdioClientTransport({
    command: podfleet, args: ["mcp", "--server", server, "--data", data], stderr: "inherit" }));
  const episode = await exercise(stdio, "stdio");
  // ep1 is queued (transcribed again by the pages test), so queue_episode says so; the deleted
  // ep3 is gone. The skipped/failed/done paths are the API's own, tested there.
  const again = await stdio.callTool({ name: "queue_episode", arguments: { episode } });
  if (!again.isError || !/already queued/.test(text(again))) fail(`queue_episode: ${text(again)}`);
  const { episodes: skipped } = await api("/api/episodes?state=skipped");
  if (!skipped.length) fail("no skipped episode to queue");
  const queued = await stdio.callTool({ name: "queue_episode", arguments: { episode: skipped[0].id } });
  const after = await api(`/api/episodes/${skipped[0].id}`);
  if (queued.isError || after.state !== "queued") fail(`queue_episode: ${text(queued)}; API: ${after.state}`);
  console.log(`ok: queue_episode: ${text(queued)} (the API agrees)`);
  await stdio.close();

  const http = new Client({ name: "podfleet-e2e", version: "1.0.0" });
  await http.connect(new StreamableHTTPClientTransport(new URL(httpUrl)));
  await exercise(http, "streamable HTTP");
  await http.close();
});
