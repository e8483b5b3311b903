// podfleet pages for people: feeds, a feed's episodes, an episode's transcript, search. Plain
// fetch() over the coordinator's JSON API. pages.html holds each page's section, hidden; the
// path (/feeds, /feeds/ID, /episodes/ID, /search) says which one to show.
// Reading needs no token; changes (add, remove, refresh, retry, transcribe again, delete) carry
// the admin token, kept in this tab's sessionStorage only.
"use strict";

const TOKEN_KEY = "podfleet.admin";

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== ""));
  return node;
}

function say(text, bad = false) {
  const p = document.getElementById("message");
  p.textContent = text;
  p.className = bad ? "alert" : "ok";
  p.hidden = !text;
}

async function api(path, options = {}) {
  const response = await fetch(path, { cache: "no-store", ...options });
  const type = response.headers.get("Content-Type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const why = body && body.error ? body.error.message : `HTTP ${response.status}`;
    const err = new Error(why);
    err.status = response.status;
    throw err;
  }
  return body;
}

// A change: sends the admin token; a refusal opens the token form.
async function change(method, path, body) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  try {
    return await api(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    if (err.status === 401 || err.status === 403) {
      document.getElementById("admin-form").hidden = false;
      err.message = `refused (${err.message}): enter the admin token above`;
    }
    throw err;
  }
}

// Runs an action from a button, saying what happened; `then` redraws.
function action(label, run, then) {
  return el("button", {
    type: "button", textContent: label, className: "act",
    onclick: async (event) => {
      event.stopPropagation();
      try {
        const note = await run();
        if (note === false) return;
        say(note || `${label}: done`);
        await then();
      } catch (err) {
        say(`${label}: ${err.message}`, true);
      }
    },
  });
}

function clock(ms) {
  if (ms === null || ms === undefined) return "–";
  const s = Math.floor(ms / 1000);
  const two = (n) => String(n).padStart(2, "0");
  return `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
}

function day(ms) {
  return ms ? new Date(ms).toISOString().slice(0, 10) : "–";
}

function when(ms) {
  return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 16) + " UTC" : "never";
}

function pathId() {
  const id = location.pathname.split("/").pop();
  return /^\d+$/.test(id) ? id : null;
}

function setupAdmin() {
  const form = document.getElementById("admin-form");
  const input = document.getElementById("admin-token");
  const status = document.getElementById("admin-status");
  const show = () => {
    const set = !!sessionStorage.getItem(TOKEN_KEY);
    status.textContent = set ? "Admin token set for this tab." :
      "Changes need the admin token; it stays in this tab.";
  };
  form.hidden = !!sessionStorage.getItem(TOKEN_KEY);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = "";
    show();
  });
  show();
}

// ---- feeds ----

async function drawFeeds() {
  const { feeds } = await api("/api/feeds");
  const rows = feeds.map((f) => el("tr", { dataset: { feed: f.id } },
    el("td", { dataset: { label: "Feed" } },
      el("a", { href: `/feeds/${f.id}`, textContent: f.title || f.url }),
      el("div", { className: "notes url", textContent: f.url })),
    el("td", { className: "num", dataset: { label: "Episodes" }, textContent: f.episode_count }),
    el("td", { dataset: { label: "Last poll" }, textContent: when(f.polled_at) }),
    el("td", { className: f.last_error ? "error" : "", dataset: { label: "Last error" },
               textContent: f.last_error || "none" }),
    el("td", { className: "actions" },
      action("Refresh", async () => {
        const r = await change("POST", `/api/feeds/${f.id}/refresh`);
        return `refreshed: ${r.new_episodes} new episode(s)${r.note ? "; " + r.note : ""}`;
      }, drawFeeds),
      action("Remove", async () => {
        if (!confirm(`Remove ${f.title || f.url} and its episodes?`)) return false;
        await change("DELETE", `/api/feeds/${f.id}`);
        return `removed ${f.title || f.url}`;
      }, drawFeeds))));
  document.querySelector("#feeds tbody").replaceChildren(...rows);
  if (!feeds.length)
    document.querySelector("#feeds tbody").append(el("tr", {}, el("td", { colSpan: 5,
      className: "notes", textContent: "No feeds yet: add one by its URL above." })));
}

function setupFeeds() {
  document.getElementById("add-feed").addEventListener("submit", async (event) => {
    event.preventDefault();
    const url = document.getElementById("feed-url");
    try {
      const r = await change("POST", "/api/feeds", { url: url.value.trim() });
      say(`added ${r.feed.title || r.feed.url}: ${r.new_episodes} episode(s), ${r.queued} queued`);
      url.value = "";
    } catch (err) {
      say(`add feed: ${err.message}`, true);
    }
    await drawFeeds();
  });
  return drawFeeds;
}

// ---- a feed's episodes ----

function episodeActions(e, redraw) {
  const acts = [];
  const post = (label, verb) => action(label, () => change("POST", `/api/episodes/${e.id}/${verb}`)
    .then(() => `${label}: #${e.id} queued`), redraw);
  if (e.state === "failed") acts.push(post("Retry", "retry"));
  if (e.state === "done") acts.push(post("Transcribe again", "transcribe"));
  if (e.state === "skipped") acts.push(post("Queue", "queue"));
  acts.push(action("Delete", async () => {
    if (!confirm(`Delete "${e.title}" with its jobs, audio and transcript?`)) return false;
    await change("DELETE", `/api/episodes/${e.id}`);
    return `deleted #${e.id} ${e.title}`;
  }, redraw));
  return acts;
}

function episodeRow(e, redraw) {
  const why = e.error || e.transcript_note;
  return el("tr", { dataset: { episode: e.id, state: e.state } },
    el("td", { dataset: { label: "Episode" } },
      el("a", { href: `/episodes/${e.id}`, textContent: e.title || `#${e.id}` })),
    el("td", { dataset: { label: "State" } },
      el("span", { className: `state state-${e.state}`, textContent: e.state }),
      why ? el("div", { className: "notes why", textContent: why }) : null),
    el("td", { dataset: { label: "Published" }, textContent: day(e.published_at || e.created_at) }),
    el("td", { className: "num", dataset: { label: "Duration" }, textContent: clock(e.duration_ms) }),
    el("td", { dataset: { label: "Transcript" }, className: "source",
               textContent: e.transcript_source || "none" }),
    el("td", { className: "actions" }, ...episodeActions(e, redraw)));
}

function setupFeed() {
  const id = pathId();
  const draw = async () => {
    const [feed, { episodes }] = await Promise.all([
      api(`/api/feeds/${id}`), api(`/api/episodes?feed=${id}&limit=1000`)]);
    document.title = `${feed.title || feed.url} · podfleet`;
    document.getElementById("feed-title").textContent = feed.title || feed.url;
    document.getElementById("feed-facts").textContent = `${feed.url} · ${episodes.length} ` +
      `episode(s) · last poll ${when(feed.polled_at)}` +
      (feed.last_error ? ` · last error: ${feed.last_error}` : "");
    document.getElementById("feed-links").replaceChildren(
      el("a", { href: `/api/feeds/${id}/mirror.rss`, textContent: "Mirror feed (RSS with transcripts)",
                className: "mirror" }),
      el("a", { href: `/api/feeds/${id}/transcripts.zip`, textContent: "All transcripts (ZIP)",
                className: "export-zip" }),
      el("a", { href: `/api/feeds/${id}/transcripts.tar.gz`, textContent: "tar.gz",
                className: "export-tar" }));
    const rows = episodes.map((e) => episodeRow(e, draw));
    document.querySelector("#episodes tbody").replaceChildren(...rows);
  };
  setInterval(() => draw().catch(() => {}), 5000);
  return draw;
}

// ---- an episode's transcript ----

const FORMATS = [["txt", "Text"], ["srt", "SRT"], ["vtt", "WebVTT"], ["json", "JSON"], ["md", "Markdown"]];

function seekTo(player, seconds, play) {
  player.currentTime = seconds;
  for (const li of document.querySelectorAll("#transcript li.current")) li.classList.remove("current");
  const at = [...document.querySelectorAll("#transcript li")]
    .filter((li) => Number(li.dataset.start) <= seconds + 0.001).pop();
  if (at) {
    at.classList.add("current");
    at.scrollIntoView({ block: "center" });
  }
  if (play) player.play().catch(() => {});  // a page may not autoplay: the position still holds
}

async function drawEpisode() {
  const id = pathId();
  const e = await api(`/api/episodes/${id}`);
  document.title = `${e.title} · podfleet`;
  const title = document.getElementById("episode-title");
  title.replaceChildren(e.title || `#${e.id}`);
  const back = e.feed_id ? el("a", { href: `/feeds/${e.feed_id}`, textContent: "feed" }) : null;
  document.getElementById("episode-facts").replaceChildren(
    `#${e.id} · ${e.state} · ${day(e.published_at || e.created_at)} · ${clock(e.duration_ms)} · ` +
    `transcript: ${e.transcript_source || "none"}${e.error ? " · " + e.error : ""}`,
    back ? " · " : "", back || "");
  const player = document.getElementById("player");
  if (/^(https?:\/\/|\/)/.test(e.audio_url)) player.src = e.audio_url;
  else player.hidden = true;
  let doc;
  try {
    doc = await api(`/api/episodes/${id}/transcript?format=json`);
  } catch (err) {
    if (err.status !== 404) throw err;
    document.getElementById("transcript").replaceChildren(el("li", { className: "notes",
      textContent: `No transcript yet (${e.state}).` }));
    return;
  }
  if (typeof doc === "string") doc = JSON.parse(doc);
  document.getElementById("downloads").replaceChildren("Download: ", ...FORMATS.map(([f, name]) =>
    el("a", { href: `/api/episodes/${id}/transcript?format=${f}`, textContent: name,
              download: `episode-${id}.${f}`, className: `download-${f}` })));
  const items = doc.segments.map((s) => el("li", {
    dataset: { start: s.startTime, end: s.endTime }, tabIndex: 0,
    onclick: () => seekTo(player, s.startTime, true),
    onkeydown: (event) => { if (event.key === "Enter") seekTo(player, s.startTime, true); },
  }, el("span", { className: "time", textContent: clock(s.startTime * 1000) }),
    s.speaker ? el("span", { className: "speaker", textContent: s.speaker }) : null,
    el("span", { className: "text", textContent: s.body })));
  document.getElementById("transcript").replaceChildren(...items);
  player.addEventListener("timeupdate", () => {
    const t = player.currentTime;
    for (const li of items)
      li.classList.toggle("current", Number(li.dataset.start) <= t && t < Number(li.dataset.end));
  });
  const start = /^#t=([\d.]+)$/.exec(location.hash);
  if (start) seekTo(player, Number(start[1]), false);
}

// ---- search ----

async function runSearch(q, feed) {
  const status = document.getElementById("search-status");
  const list = document.getElementById("hits");
  const params = new URLSearchParams({ q, limit: "50" });
  if (feed) params.set("feed", feed);
  const { hits, ranked } = await api(`/api/search?${params}`);
  status.textContent = !hits.length ? `Nothing found for ${q}.` : `${hits.length} hit(s) for ${q}` +
    (ranked ? "" : " (too common to rank: the newest first; add a rarer word or a phrase)");
  list.replaceChildren(...hits.map((h) => {
    const snippet = el("span", { className: "snippet" });
    snippet.innerHTML = h.snippet_html;  // escaped by the server; only <mark> is markup
    const href = `/episodes/${h.episode}#t=${h.start_ms / 1000}`;
    return el("li", { dataset: { episode: h.episode, start: h.start_ms } },
      el("a", { href, className: "hit" },
        el("span", { className: "time", textContent: clock(h.start_ms) }),
        el("strong", { textContent: h.title })),
      el("div", {}, h.speaker ? el("span", { className: "speaker", textContent: h.speaker }) : null,
        snippet),
      el("div", { className: "notes", textContent: day(h.published_at) }));
  }));
}

function setupSearch() {
  const form = document.getElementById("search-form");
  const input = document.getElementById("search-q");
  const go = async () => {
    const q = new URLSearchParams(location.search).get("q");
    if (!q) return;
    input.value = q;
    try {
      await runSearch(q, new URLSearchParams(location.search).get("feed"));
    } catch (err) {
      say(`search: ${err.message}`, true);
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    history.pushState(null, "", `/search?${new URLSearchParams({ q: input.value })}`);
    go();
  });
  window.addEventListener("popstate", go);
  return go;
}

const PAGES = { feeds: setupFeeds, feed: setupFeed, episode: () => drawEpisode, search: setupSearch };
const TITLES = { feeds: "Feeds", feed: "Episodes", episode: "Transcript", search: "Search" };

function pageOfPath(path) {
  if (path.startsWith("/feeds/")) return "feed";
  if (path.startsWith("/episodes/")) return "episode";
  return path === "/search" ? "search" : "feeds";
}

const page = pageOfPath(location.pathname);
document.body.dataset.page = page;
document.title = `${TITLES[page]} · podfleet`;
document.getElementById(`page-${page}`).hidden = false;
setupAdmin();
PAGES[page]()().catch((err) => say(err.message, true));
