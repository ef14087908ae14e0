// shoal console: polls the tracker's API and draws with uPlot. No build step.
"use strict";
(() => {
  const $ = (s, el = document) => el.querySelector(s);
  const tokenInput = $("#token");
  tokenInput.value = sessionStorage.getItem("shoal-admin-token") || "";
  tokenInput.addEventListener("change", () => sessionStorage.setItem("shoal-admin-token", tokenInput.value));

  let selected = null, chart = null, policies = {}, editing = false;
  const pct = (x) => (100 * x).toFixed(1) + "%";
  const mb = (b) => (b / 1e6).toFixed(1) + " MB";
  const showErr = (msg) => { $("#err").textContent = msg || ""; };

  async function getJSON(url) {
    const r = await fetch(url, { cache: "no-store" });
    if (!r.ok) throw new Error(url + ": " + r.status + " " + (await r.text()));
    return r.json();
  }

  async function putPolicy(stream, body, region) {
    const headers = { "Content-Type": "application/json" };
    if (tokenInput.value) headers.Authorization = "Bearer " + tokenInput.value;
    // A region switched back on drops its own policy: it follows the stream's again.
    const q = region ? "?region=" + encodeURIComponent(region) : "";
    const method = region && body.p2p_enabled ? "DELETE" : "PUT";
    const r = await fetch("/api/streams/" + encodeURIComponent(stream) + "/policy" + q, { method, headers, body: method === "PUT" ? JSON.stringify(body) : undefined });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error("policy of " + stream + ": " + r.status + " " + (j.error || ""));
    if (!region) policies[stream] = j.policy;
    return j;
  }

  // One row per stream: its renditions summed.
  function byStream(swarms) {
    const m = new Map();
    for (const s of swarms) {
      const t = m.get(s.stream) || { stream: s.stream, renditions: 0, peers: 0, cdn: 0, p2p: 0, stalls: 0 };
      t.renditions++; t.peers += s.peers; t.cdn += s.bytes_cdn; t.p2p += s.bytes_p2p; t.stalls += s.stalls;
      m.set(s.stream, t);
    }
    return [...m.values()];
  }

  async function refreshStreams() {
    const rows = byStream(await getJSON("/api/streams"));
    for (const r of rows) if (!policies[r.stream]) policies[r.stream] = (await getJSON("/api/streams/" + encodeURIComponent(r.stream) + "/policy")).policy;
    if (editing) return; // do not redraw under the operator's cursor
    const tb = $("#streams tbody");
    tb.textContent = "";
    for (const r of rows) {
      const p = policies[r.stream] || { p2p_enabled: true, max_upload: 0, neighbours: 0 };
      const tr = document.createElement("tr");
      tr.dataset.stream = r.stream;
      if (r.stream === selected) tr.className = "sel";
      const off = r.cdn + r.p2p > 0 ? r.p2p / (r.cdn + r.p2p) : 0;
      tr.innerHTML = `<td class="name"></td><td>${r.renditions}</td><td class="viewers">${r.peers}</td><td class="offload">${pct(off)}</td>` +
        `<td>${mb(r.cdn)}</td><td>${mb(r.p2p)}</td><td>${r.stalls}</td>` +
        `<td><label><input type="checkbox" class="p2p"> <span class="${p.p2p_enabled ? "on" : "off"}">${p.p2p_enabled ? "on" : "off"}</span></label></td>` +
        `<td><input type="number" class="cap" min="0" step="0.5"> <button class="apply">set</button></td>`;
      $(".name", tr).textContent = r.stream;
      const box = $(".p2p", tr), cap = $(".cap", tr);
      box.checked = p.p2p_enabled;
      cap.value = p.max_upload / 1e6;
      box.dataset.stream = r.stream;
      box.addEventListener("change", (ev) => {
        ev.stopPropagation();
        putPolicy(r.stream, { p2p_enabled: box.checked, max_upload: p.max_upload, neighbours: p.neighbours })
          .then(() => { showErr(); refreshStreams(); }, (e) => { showErr(e.message); box.checked = !box.checked; });
      });
      const apply = () => putPolicy(r.stream, { p2p_enabled: p.p2p_enabled, max_upload: Math.round(Number(cap.value) * 1e6), neighbours: p.neighbours })
        .then(() => { showErr(); editing = false; refreshStreams(); }, (e) => showErr(e.message));
      $(".apply", tr).addEventListener("click", (ev) => { ev.stopPropagation(); apply(); });
      cap.addEventListener("focus", () => { editing = true; });
      cap.addEventListener("blur", () => { editing = false; });
      cap.addEventListener("keydown", (ev) => { if (ev.key === "Enter") apply(); });
      for (const el of [box, cap]) el.addEventListener("click", (ev) => ev.stopPropagation());
      tr.addEventListener("click", () => select(r.stream));
      tb.appendChild(tr);
    }
    if (!selected && rows.length) select(rows[0].stream);
  }

  function select(stream) {
    selected = stream;
    for (const tr of document.querySelectorAll("#streams tr[data-stream]")) tr.className = tr.dataset.stream === stream ? "sel" : "";
    $("#detail").hidden = false;
    $("#detail-title").textContent = "Stream " + stream;
    if (chart) { chart.destroy(); chart = null; }
    refreshDetail();
  }

  function makeChart(data) {
    const mbps = (u, vals) => vals.map((v) => (v == null ? "" : v.toFixed(1)));
    return new uPlot({
      width: Math.min(960, window.innerWidth - 60), height: 300,
      series: [
        {},
        { label: "CDN egress (edges, Mbit/s)", stroke: "#d9480f", width: 2, value: (u, v) => (v == null ? "–" : v.toFixed(2)) },
        { label: "CDN (viewers, Mbit/s)", stroke: "#f59f00", dash: [6, 4], value: (u, v) => (v == null ? "–" : v.toFixed(2)) },
        { label: "P2P (viewers, Mbit/s)", stroke: "#1971c2", width: 2, value: (u, v) => (v == null ? "–" : v.toFixed(2)) },
        { label: "offload (viewers, %)", stroke: "#2f9e44", scale: "%", value: (u, v) => (v == null ? "–" : v.toFixed(0) + "%") },
      ],
      axes: [{}, { label: "Mbit/s", values: mbps }, { side: 1, scale: "%", label: "offload %", grid: { show: false } }],
      scales: { "%": { range: [0, 100] } },
    }, data, $("#chart"));
  }

  async function refreshDetail() {
    if (!selected) return;
    const stream = selected;
    const [series, regions] = await Promise.all([
      getJSON("/api/console/series?stream=" + encodeURIComponent(stream)),
      getJSON("/api/streams/" + encodeURIComponent(stream) + "/regions"),
    ]);
    if (stream !== selected) return;
    const bits = (b) => (b * 8) / 1e6;
    const data = [
      series.map((s) => s.t),
      series.map((s) => (s.egress_bps < 0 ? null : bits(s.egress_bps))),
      series.map((s) => bits(s.cdn_bps)),
      series.map((s) => bits(s.p2p_bps)),
      series.map((s) => 100 * s.offload),
    ];
    if (!chart) chart = makeChart(data); else chart.setData(data);
    const tb = $("#regions tbody");
    tb.textContent = "";
    for (const r of regions) {
      const tr = document.createElement("tr");
      tr.innerHTML = `<td></td><td>${r.viewers}</td><td><label><input type="checkbox" class="rp2p"> <span class="${r.p2p_enabled ? "on" : "off"}">${r.p2p_enabled ? "on" : "off"}</span></label></td>` +
        `<td>${pct(r.offload)}</td><td>${r.stalls}</td><td>${r.started ? pct(r.rebuffer_ratio) : "–"}</td>` +
        `<td>${r.started ? (r.startup_p50_ms / 1000).toFixed(2) + " s" : "–"}</td>`;
      tr.firstChild.textContent = r.region || "(unknown)";
      const box = $(".rp2p", tr);
      box.checked = r.p2p_enabled;
      box.disabled = !r.region; // the API sets policies of named regions only
      box.title = r.region ? "P2P for this region's viewers" : "viewers of no known region follow the stream's switch";
      box.addEventListener("change", () => {
        putPolicy(stream, { p2p_enabled: box.checked }, r.region).then(() => { showErr(); refreshDetail(); }, (e) => { showErr(e.message); box.checked = !box.checked; });
      });
      tb.appendChild(tr);
    }
  }

  const loop = (fn, ms) => { const run = () => fn().catch((e) => showErr(e.message)).finally(() => setTimeout(run, ms)); run(); };
  loop(refreshStreams, 1000);
  loop(refreshDetail, 1000);
})();
