// podfleet dashboard: polls GET /api/dashboard every two seconds and redraws. Read-only, so it
// needs no token. The throughput chart uses uPlot (embedded from node_modules at build time).
"use strict";

const REFRESH_MS = 2000;
let chart = null;

function text(value) {
  return value === null || value === undefined ? "–" : String(value);
}

function fixed(value, digits, prefix = "", suffix = "") {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return prefix + Number(value).toFixed(digits) + suffix;
}

function cell(row, content, cls) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  if (cls) td.className = cls;
  row.append(td);
  return td;
}

function fillRows(tableId, items, render) {
  const body = document.querySelector(`#${tableId} tbody`);
  const rows = items.map((item) => {
    const tr = document.createElement("tr");
    render(tr, item);
    return tr;
  });
  body.replaceChildren(...rows);
}

function fillList(listId, pairs) {
  const dl = document.getElementById(listId);
  const children = [];
  for (const [key, value] of pairs) {
    const dt = document.createElement("dt");
    dt.textContent = key;
    const dd = document.createElement("dd");
    dd.textContent = value;
    dd.dataset.key = key;
    children.push(dt, dd);
  }
  dl.replaceChildren(...children);
}

function currentJob(node) {
  if (!node.jobs.length) return "";
  const running = node.jobs.find((j) => j.stage === "transcribing") || node.jobs[0];
  const span = document.createElement("span");
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = running.progress || 0;
  const title = document.createElement("span");
  title.className = "job-title";
  title.textContent = running.title || "";
  span.title = running.title || "";
  span.append(`#${running.episode} `, title, ` ${running.stage || "leased"} `, bar,
              node.jobs.length > 1 ? ` +${node.jobs.length - 1} ready` : "");
  return span;
}

function renderNodes(nodes) {
  fillRows("nodes", nodes, (tr, n) => {
    tr.dataset.node = n.id;
    cell(tr, n.name);
    cell(tr, n.status, `status-${n.status}`).title = n.blocked_reason || n.fault || "";
    cell(tr, n.gpu || "CPU");
    cell(tr, text(n.engine_states), "num states");
    cell(tr, fixed(n.price_per_hour, 2, "$"), "num");
    cell(tr, fixed(n.speed, 1, "", "x"), "num speed");
    cell(tr, text(n.last_hour.jobs), "num");
    cell(tr, fixed(n.last_hour.avg_engine_s, 1, "", " s"), "num");
    cell(tr, fixed(n.last_hour.avg_job_s, 1, "", " s"), "num");
    cell(tr, fixed(100 * n.last_hour.idle_with_work_share, 1, "", "%"), "num");
    cell(tr, currentJob(n));
  });
}

function renderQueue(d) {
  fillList("queue", [
    ["queued", d.queue.queued],
    ["running", d.queue.running],
    ["done", d.queue.completed],
    ["failed", d.queue.failed],
    ["queued audio", fixed(d.queue.queued_audio_hours, 2, "", " h")],
  ]);
  fillList("last-hour", [
    ["episodes", d.last_hour.episodes],
    ["audio minutes", fixed(d.last_hour.audio_minutes, 1)],
    ["audio-hours per hour", fixed(d.last_hour.audio_hours_per_hour, 1, "", "x")],
    ["sum of node speeds", fixed(d.last_hour.sum_of_node_speeds, 1, "", "x")],
    ["fleet efficiency", fixed(100 * d.last_hour.fleet_efficiency, 0, "", "%")],
  ]);
}

function renderChart(history) {
  const el = document.getElementById("chart");
  const xs = history.map((h) => h.hour_at / 1000);
  const ys = history.map((h) => h.audio_hours_per_hour);
  if (typeof uPlot === "undefined") {
    el.textContent = "chart library missing: run `npm ci` in the source tree and rebuild podfleet";
    return;
  }
  if (!chart) {
    chart = new uPlot({
      width: Math.max(320, el.clientWidth || 480),
      height: 220,
      series: [{}, { label: "audio-h / h", stroke: "#0b61a4", fill: "rgba(11,97,164,0.12)" }],
      axes: [{}, { label: "x realtime" }],
    }, [xs, ys], el);
  } else {
    chart.setData([xs, ys]);
  }
}

function renderEconomics(e) {
  fillRows("economics", e.gpus, (tr, g) => {
    if (g.winner) tr.className = "winner";
    cell(tr, g.gpu + (g.winner ? "  ★ winner" : ""));
    cell(tr, text(g.nodes), "num");
    cell(tr, fixed(g.price_per_hour, 2, "$"), "num");
    cell(tr, fixed(g.realtime, 1, "~", "x"), "num");
    cell(tr, fixed(g.dollars_per_audio_hour, 4, "$"), "num");
    cell(tr, fixed(g.episodes_per_dollar, 0), "num");
    cell(tr, fixed(g.cost_per_100_episodes, 2, "$"), "num");
    cell(tr, g.note);
  });
  document.getElementById("economics-notes").textContent =
    `mean episode ${fixed(e.mean_episode_minutes, 1, "", " min")}. ` + e.notes.join(" ");
}

function renderBandwidth(b) {
  const pairs = [
    ["per audio-minute", fixed(b.mb_per_audio_minute, 2, "", " MB")],
    ["served in 24 h", fixed(b.bytes_24h / 1e6, 1, "", " MB")],
    ["uplink", b.uplink_bits_per_second ? fixed(b.uplink_bits_per_second / 1e6, 0, "", " Mbit/s") : "not configured"],
    ["link capacity", fixed(b.realtime_capacity, 0, "", "x realtime")],
    ["fleet speed", fixed(b.fleet_speed, 1, "", "x")],
  ];
  for (const f of b.feeds) pairs.push([`feeds ${f.gpu} (${fixed(f.speed, 0)}x)`, fixed(f.nodes, 1, "", " nodes")]);
  fillList("bandwidth", pairs);
  document.getElementById("bandwidth-verdict").textContent = b.verdict;
}

function renderChecks(d) {
  fillRows("doctor", d.doctor.checks, (tr, c) => {
    cell(tr, c.name);
    cell(tr, c.outcome, `outcome-${c.outcome}`);
    cell(tr, c.detail);
  });
  fillRows("compatibility", d.compatibility, (tr, c) => {
    cell(tr, c.gpu);
    cell(tr, c.driver);
    cell(tr, c.engine);
    cell(tr, c.status, c.status === "blocked" ? "status-blocked" : "outcome-pass").title = c.reason;
    cell(tr, c.source);
  });
}

function renderAlerts(alerts) {
  const box = document.getElementById("alerts");
  box.replaceChildren(...alerts.map((a) => {
    const div = document.createElement("div");
    div.className = `alert alert-${a.kind}`;
    div.textContent = a.message;
    return div;
  }));
}

// Pods on demand (GET /api/pods): shown only when serve --autoscale runs.
function renderPods(p) {
  const section = document.getElementById("pods");
  section.hidden = !p.autoscale;
  if (!p.autoscale) return;
  const live = p.pods.filter((x) => x.state !== "terminated" && x.state !== "failed").length;
  const pairs = [
    ["provider", p.provider],
    ["wanted", text(p.wanted)],
    ["live", `${live} of at most ${p.limits.max_pods}`],
    ["spend so far", fixed(p.spend, 4, "$")],
    ["spend per hour", `${fixed(p.spend_per_hour, 3, "$")} of ${fixed(p.limits.budget_per_hour, 2, "$")}`],
  ];
  for (const [state, n] of Object.entries(p.by_state)) if (n) pairs.push([state, text(n)]);
  fillList("pods-summary", pairs);
  fillRows("pods-table", p.pods.slice().reverse().slice(0, 20), (tr, x) => {
    cell(tr, x.name);
    cell(tr, x.cloud && x.cloud !== "ALL" ? `${x.gpu} (${x.cloud.toLowerCase()})` : x.gpu);
    cell(tr, x.state, `pod-${x.state}`);
    cell(tr, fixed(x.price_per_hour, 3, "$"), "num");
    cell(tr, fixed(x.hours, 3), "num");
    cell(tr, fixed(x.spend, 4, "$"), "num");
    cell(tr, x.reason);
  });
  const list = document.getElementById("pods-decisions");
  list.replaceChildren(...p.decisions.slice(-12).reverse().map((d) => {
    const li = document.createElement("li");
    li.textContent = `${new Date(d.at_ms).toLocaleTimeString()}  ${d.text}`;
    return li;
  }));
}

async function refresh() {
  const updated = document.getElementById("updated");
  try {
    const response = await fetch("/api/dashboard", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const d = await response.json();
    renderNodes(d.nodes);
    renderQueue(d);
    renderChart(d.history);
    renderEconomics(d.economics);
    renderBandwidth(d.bandwidth);
    renderChecks(d);
    renderAlerts(d.alerts);
    const pods = await fetch("/api/pods", { cache: "no-store" });
    if (pods.ok) renderPods(await pods.json());
    updated.textContent = `updated ${new Date(d.now).toLocaleTimeString()}`;
    updated.dataset.at = d.now;
  } catch (err) {
    updated.textContent = `coordinator unreachable (${err.message}); retrying`;
  }
}

// "Add a worker": the join line holds an enrollment token, so it is fetched with the admin token
// (GET /api/worker/join), which stays in this tab only.
async function showJoin(event) {
  event.preventDefault();
  const admin = document.getElementById("join-admin").value.trim();
  const status = document.getElementById("join-status");
  const lines = document.getElementById("join-lines");
  lines.replaceChildren();
  const response = await fetch("/api/worker/join", {
    cache: "no-store", headers: { Authorization: `Bearer ${admin}` },
  });
  if (response.status === 404) {
    status.textContent = "This coordinator serves no worker bundles: start it with --bundles DIR " +
      "(scripts/bundle makes them; see doc/install.md).";
    return;
  }
  const d = await response.json();
  if (!response.ok) {
    status.textContent = `Refused: ${d.error ? d.error.message : response.status}`;
    return;
  }
  status.textContent = `Enrollment token ${d.token_id} (revoke it with: podfleet token revoke ` +
    `${d.token_id}; the line then stops working and a new one is shown here).`;
  lines.replaceChildren(...d.bundles.map((b) => {
    const div = document.createElement("div");
    div.className = "join-line";
    const h = document.createElement("h3");
    h.textContent = `${b.variant} bundle (${(b.size / 1048576).toFixed(1)} MiB)`;
    const pre = document.createElement("pre");
    pre.textContent = b.command;
    div.append(h, pre);
    return div;
  }));
}

document.getElementById("join-form").addEventListener("submit", showJoin);
refresh();
setInterval(refresh, REFRESH_MS);
