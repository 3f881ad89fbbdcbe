/*
 * ferry-sink's page: hosts (GET /beat), a metric tree (/metrics/find), a
 * chart of the selected metrics (/render, drawn here as SVG) and a log view
 * (/store/files, /store/lines) that follows new lines.
 *
 * Everything the page shows is named in its query string (target=, from=,
 * until=, host=, file=, follow=), kept current with history.replaceState, so
 * the address can be shared. The page polls GET /changes four times a
 * second and reads the rest only when the sink's write counter moved (or,
 * for a window ending "now", every few seconds so the chart slides): a point
 * sent with `ferryctl send` shows within the forwarder's batch time plus a
 * quarter of a second. Such a window is followed by reading its last minute
 * only, and read whole every few seconds (loadChart).
 *
 * No library: the chart is a path per series, every point in it (series
 * longer than DECIMATE_ABOVE keep each pixel column's first, lowest, highest
 * and last point, which draws the same picture). The <svg> carries its
 * scales (data-t0/t1, data-v0/v1 for the window and values, data-x0/x1,
 * data-y0/y1 for the pixels) and how long drawing took (data-draw-ms), for
 * the browser test and for anyone curious.
 */
"use strict";
(function () {
  const POLL_MS = 250;          /* /changes is a counter: cheap to ask */
  const SLIDE_MS = 5000;        /* a window ending now is redrawn this often */
  const FULL_MS = 5000;         /* ...and read whole again this often */
  const OVERLAP_S = 60;         /* what a partial read asks again */
  const STALE_S = 180;          /* three default heartbeat intervals */
  const LOG_TAIL = 1000;        /* lines shown when a file is opened */
  const LOG_KEEP = 5000;        /* lines kept in the view while following */
  const DECIMATE_ABOVE = 20000;
  const MARKERS_UPTO = 200;     /* series this short get a dot per point */
  const SERIES_MAX = 50;        /* series drawn at most (and colours cycle) */
  const COLORS = ["#2457c5", "#d1495b", "#2a9d8f", "#e09f3e", "#7b2cbf",
    "#3d405b", "#ef476f", "#118ab2", "#6a994e", "#bc6c25"];
  const SVGNS = "http://www.w3.org/2000/svg";
  const UNITS = { s: 1, sec: 1, secs: 1, second: 1, seconds: 1, min: 60,
    mins: 60, minute: 60, minutes: 60, h: 3600, hour: 3600, hours: 3600,
    d: 86400, day: 86400, days: 86400, w: 604800, week: 604800,
    weeks: 604800, mon: 2592000, month: 2592000, months: 2592000,
    y: 31536000, year: 31536000, years: 31536000 };

  const $ = (id) => document.getElementById(id);
  const state = { targets: [], from: "-1h", until: "now", host: "", file: "",
    follow: true };
  const view = {
    gen: -1, skew: 0, down: false, busy: false, again: false,
    lastChart: 0, beats: [], levels: new Map(), open: new Set(),
    series: [], chartSeq: 0, chartKey: "", chartFull: 0, scale: null, logLast: null, logKey: "",
    filesSig: "",
    timer: null,
  };

  /* -- the address ---------------------------------------------------- */

  function readURL() {
    const q = new URLSearchParams(location.search);
    state.targets = q.getAll("target").filter((t) => t !== "");
    state.from = q.get("from") || "-1h";
    state.until = q.get("until") || "now";
    state.host = q.get("host") || "";
    state.file = q.get("file") || "";
    state.follow = q.get("follow") !== "0";
  }

  function writeURL() {
    const q = new URLSearchParams();
    for (const t of state.targets) q.append("target", t);
    if (state.from !== "-1h") q.set("from", state.from);
    if (state.until !== "now") q.set("until", state.until);
    if (state.host) q.set("host", state.host);
    if (state.file) q.set("file", state.file);
    if (!state.follow) q.set("follow", "0");
    const s = q.toString();
    history.replaceState(null, "", s ? "?" + s : location.pathname);
  }

  /* -- talking to the sink -------------------------------------------- */

  async function get(url, json = true) {
    const r = await fetch(url, { cache: "no-store" });
    if (!r.ok)
      throw new Error(url.split("?")[0] + ": " + r.status + " " +
        (await r.text()).trim());
    return json ? r.json() : r.text();
  }

  function now() { return Date.now() / 1000 + view.skew; }

  /* Graphite's time forms, as the sink reads them; null when not one. */
  function parseTime(s, t) {
    if (/^\d+$/.test(s)) return Number(s);
    let p = s.startsWith("now") ? s.slice(3) : s;
    if (p === "" && s !== "") return t;
    const m = /^([+-])(\d+)([a-z]+)$/.exec(p);
    if (!m || !(m[3] in UNITS)) return null;
    return t + (m[1] === "-" ? -1 : 1) * Number(m[2]) * UNITS[m[3]];
  }

  function setStatus(text, down) {
    const el = $("status");
    el.textContent = text;
    el.classList.toggle("down", !!down);
  }

  /* -- hosts ----------------------------------------------------------- */

  function age(sec) {
    sec = Math.max(0, Math.round(sec));
    if (sec < 90) return sec + " s ago";
    if (sec < 5400) return Math.round(sec / 60) + " min ago";
    if (sec < 172800) return Math.round(sec / 3600) + " h ago";
    return Math.round(sec / 86400) + " d ago";
  }

  function bytes(n) {
    if (n == null) return "?";
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + u[i];
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function health(b, t) {
    const beat = b.beat || {};
    const bad = (beat.processes || []).filter((p) =>
      p.state === "backoff" || p.state === "fatal").map((p) => p.name);
    if (t - b.received > STALE_S) return ["stale", "stale"];
    if (beat.ok === false)
      return ["bad", "unhealthy" + (bad.length ? ": " + bad.join(", ") : "")];
    return ["ok", "healthy"];
  }

  function drawHosts() {
    const body = $("hosts").tBodies[0], t = now();
    body.replaceChildren();
    $("hosts-empty").hidden = view.beats.length > 0;
    $("hosts").hidden = view.beats.length === 0;
    for (const b of view.beats) {
      const beat = b.beat || {}, tr = document.createElement("tr");
      tr.dataset.host = b.host;
      tr.append(el("td", "host", b.host));
      const seen = el("td", "seen", age(t - b.received));
      seen.title = new Date(b.received * 1000).toLocaleString();
      tr.append(seen);
      const [cls, text] = health(b, t);
      tr.append(el("td", "health " + cls, text));
      tr.append(el("td", "version", beat.version || "?"));
      const outs = el("td", "outputs");
      for (const o of beat.outputs || []) {
        const d = el("div", "out " + (o.state || ""));
        d.textContent = o.name + ": " + (o.state || "?") + ", " +
          (o.backlog_records == null ? "?" : o.backlog_records) +
          " records (" + bytes(o.backlog_bytes) + ")" +
          (o.oldest_age != null && o.backlog_records ?
            ", oldest " + age(o.oldest_age).replace(" ago", "") : "");
        outs.append(d);
      }
      tr.append(outs);
      const errs = el("td", "errors");
      const lines = (beat.errors || []).slice(-3);
      for (const o of beat.outputs || [])
        if (o.last_error && o.last_error_at > 0)
          lines.push(o.name + ": " + o.last_error + " (" +
            age(t - o.last_error_at) + ")");
      for (const l of lines) {
        const d = el("div", "err", l);
        d.title = l;
        errs.append(d);
      }
      if (!lines.length) errs.append(el("span", "empty", "none"));
      tr.append(errs);
      body.append(tr);
    }
  }

  async function loadHosts() {
    view.beats = await get("/beat");
    drawHosts();
  }

  /* -- the metric tree ------------------------------------------------- */

  async function loadLevel(prefix) {
    const nodes = await get("/metrics/find?query=" +
      encodeURIComponent(prefix ? prefix + ".*" : "*"));
    view.levels.set(prefix, nodes);
    return nodes;
  }

  function toggleTarget(id, on) {
    const i = state.targets.indexOf(id);
    if (on && i < 0) state.targets.push(id);
    if (!on && i >= 0) state.targets.splice(i, 1);
    writeURL();
    drawSelection();
    drawTree();
    loadChart().catch(showError);
  }

  function drawLevel(prefix, ul) {
    for (const n of view.levels.get(prefix) || []) {
      const li = el("li", n.expandable ? "branch" : "leaf");
      li.dataset.id = n.id;
      if (n.expandable) {
        const open = view.open.has(n.id);
        const tog = el("span", "toggle", open ? "▾" : "▸");
        const name = el("span", "name", n.text);
        const flip = () => {
          if (view.open.has(n.id)) view.open.delete(n.id);
          else view.open.add(n.id);
          refreshTree(true).catch(showError);
        };
        tog.onclick = flip;
        name.onclick = flip;
        li.append(tog, name);
      } else {
        li.append(el("span", "toggle", ""));
      }
      if (n.leaf) {
        const lab = el("label");
        const box = document.createElement("input");
        box.type = "checkbox";
        box.checked = state.targets.includes(n.id);
        box.onchange = () => toggleTarget(n.id, box.checked);
        lab.append(box, document.createTextNode(n.expandable ? " (value)" :
          " " + n.text));
        li.append(lab);
      }
      if (n.expandable && view.open.has(n.id) && view.levels.has(n.id)) {
        const sub = el("ul");
        drawLevel(n.id, sub);
        li.append(sub);
      }
      ul.append(li);
    }
  }

  function drawTree() {
    const ul = $("tree"), top = ul.scrollTop;
    ul.replaceChildren();
    drawLevel("", ul);
    if (!ul.children.length) ul.append(el("li", "empty", "no metrics yet"));
    ul.scrollTop = top;
  }

  /* Open the branches above each selected name, so the selection shows. */
  function openAncestors() {
    for (const t of state.targets) {
      const parts = t.split(".");
      for (let i = 1; i < parts.length; i++) {
        const id = parts.slice(0, i).join(".");
        if (/[*?[{]/.test(id)) break;
        view.open.add(id);
      }
    }
  }

  /*
   * Read the root and every open branch again; draw only when something
   * changed, so a tree being clicked is not swapped under the pointer.
   */
  async function refreshTree(force) {
    const want = [""];
    for (const id of view.open) want.push(id);
    const before = JSON.stringify([...view.levels]);
    await Promise.all(want.map((p) => loadLevel(p).catch(() => [])));
    const keep = new Set(want);
    for (const k of view.levels.keys()) if (!keep.has(k)) view.levels.delete(k);
    if (force || JSON.stringify([...view.levels]) !== before) drawTree();
  }

  /* -- the chart ------------------------------------------------------- */

  function drawSelection() {
    const box = $("selection");
    box.replaceChildren();
    for (const t of state.targets) {
      const chip = el("span", "chip", t);
      const x = el("button", "", "×");
      x.title = "remove " + t;
      x.type = "button";
      x.onclick = () => toggleTarget(t, false);
      chip.append(x);
      box.append(chip);
    }
  }

  function niceStep(span, n) {
    const raw = span / Math.max(1, n), p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }

  const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600,
    7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000];

  function timeLabel(t, span) {
    const d = new Date(t * 1000), p = (v) => String(v).padStart(2, "0");
    const hm = p(d.getHours()) + ":" + p(d.getMinutes());
    if (span <= 600) return hm + ":" + p(d.getSeconds());
    if (span <= 172800) return hm;
    return p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + hm;
  }

  /* Keep each pixel column's first, lowest, highest and last point. */
  function decimate(pts, t0, dt, width) {
    const out = [];
    let col = null, first, lo, hi, last;
    const flush = () => {
      if (col === null) return;
      const keep = [first, lo, hi, last].sort((a, b) => a[1] - b[1]);
      for (let i = 0; i < keep.length; i++)
        if (i === 0 || keep[i] !== keep[i - 1]) out.push(keep[i]);
    };
    for (const p of pts) {
      const c = Math.floor((p[1] - t0) / dt * width);
      if (c !== col) { flush(); col = c; first = lo = hi = last = p; continue; }
      if (p[0] < lo[0]) lo = p;
      if (p[0] > hi[0]) hi = p;
      last = p;
    }
    flush();
    return out;
  }

  function svg(tag, attrs, parent) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.append(e);
    return e;
  }

  function drawChart() {
    const t = performance.now(), box = $("chart");
    const W = Math.max(320, box.clientWidth), H = 320;
    const M = { l: 64, r: 14, t: 10, b: 24 };
    const tnow = now();
    let t0 = parseTime(state.from, tnow), t1 = parseTime(state.until, tnow);
    if (t0 == null || t1 == null || t1 <= t0) { t0 = tnow - 3600; t1 = tnow; }
    /* A pattern may match thousands of names: a chart of more is no chart. */
    const series = view.series.slice(0, SERIES_MAX).map((s) => ({ name: s.target,
      pts: s.datapoints.filter((p) => p[0] !== null && p[1] >= t0 && p[1] <= t1) }));
    let v0 = Infinity, v1 = -Infinity, npts = 0;
    for (const s of series) {
      npts += s.pts.length;
      for (const p of s.pts) { if (p[0] < v0) v0 = p[0]; if (p[0] > v1) v1 = p[0]; }
    }
    if (!state.targets.length) {
      box.replaceChildren(el("p", "empty", "Pick metrics in the tree (or type a " +
        "name or pattern) to plot them."));
      $("legend").replaceChildren();
      $("chart-info").textContent = "";
      return;
    }
    if (v0 === Infinity) { v0 = 0; v1 = 1; }
    if (v0 === v1) { const d = Math.abs(v0) * 0.1 || 1; v0 -= d; v1 += d; }
    const ystep = niceStep(v1 - v0, 5);
    v0 = Math.floor(v0 / ystep) * ystep;
    v1 = Math.ceil(v1 / ystep) * ystep;
    const x0 = M.l, x1 = W - M.r, y0 = H - M.b, y1 = M.t;
    const X = (ts) => x0 + (ts - t0) / (t1 - t0) * (x1 - x0);
    const Y = (v) => y0 - (v - v0) / (v1 - v0) * (y0 - y1);

    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H,
      role: "img", "aria-label": "chart of " + state.targets.join(", ") });
    Object.assign(root.dataset, { t0, t1, v0, v1, x0, x1, y0, y1 });
    const grid = svg("g", { class: "grid" }, root);
    for (let v = v0; v <= v1 + ystep / 2; v += ystep) {
      const y = Y(v).toFixed(1);
      svg("line", { x1: x0, x2: x1, y1: y, y2: y }, grid);
      const lab = svg("text", { x: x0 - 6, y: Number(y) + 4, "text-anchor": "end" }, root);
      lab.textContent = Number(v.toPrecision(6)).toString();
    }
    const span = t1 - t0;
    const tstep = TIME_STEPS.find((s) => span / s <= (x1 - x0) / 90) || 2592000;
    const off = new Date().getTimezoneOffset() * 60;
    for (let ts = Math.ceil((t0 - off) / tstep) * tstep + off; ts <= t1; ts += tstep) {
      const x = X(ts).toFixed(1);
      svg("line", { x1: x, x2: x, y1: y1, y2: y0 }, grid);
      if (Number(x) > W - 36) continue;   /* its label would be cut at the edge */
      const lab = svg("text", { x: x, y: H - 6, "text-anchor": "middle" }, root);
      lab.textContent = timeLabel(ts, span);
    }
    svg("path", { class: "axis", d: "M" + x0 + "," + y1 + "V" + y0 + "H" + x1 }, root);

    const legend = $("legend");
    legend.replaceChildren();
    series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      let pts = s.pts;
      if (pts.length > DECIMATE_ABOVE) pts = decimate(pts, t0, t1 - t0, x1 - x0);
      const d = new Array(pts.length);
      for (let k = 0; k < pts.length; k++)
        d[k] = (k ? "L" : "M") + X(pts[k][1]).toFixed(2) + "," + Y(pts[k][0]).toFixed(2);
      svg("path", { class: "series", d: d.join(""), stroke: color,
        "data-target": s.name, "data-points": s.pts.length }, root);
      if (pts.length <= MARKERS_UPTO) {
        const g = svg("g", { fill: color, "data-target": s.name }, root);
        for (const p of pts)
          svg("circle", { cx: X(p[1]).toFixed(2), cy: Y(p[0]).toFixed(2), r: 2.5 }, g);
      }
      const li = el("li");
      const sw = el("span", "swatch");
      sw.style.background = color;
      const last = s.pts.length ? s.pts[s.pts.length - 1][0] : null;
      li.append(sw, document.createTextNode(s.name),
        el("span", "val", last === null ? "no points" : "last " + last));
      legend.append(li);
    });
    if (!series.length)
      legend.append(el("li", "empty", "nothing matches the selection yet"));
    if (view.series.length > SERIES_MAX)
      legend.append(el("li", "empty", "and " + (view.series.length - SERIES_MAX) +
        " more series not drawn: narrow the selection"));
    svg("line", { class: "cursor", x1: -10, x2: -10, y1: y1, y2: y0 }, root);
    root.addEventListener("mousemove", hover);
    root.addEventListener("mouseleave", () => {
      $("tooltip").hidden = true;
      root.querySelector(".cursor").setAttribute("x1", -10);
      root.querySelector(".cursor").setAttribute("x2", -10);
    });
    view.scale = { t0, t1, x0, x1, W, series };
    box.replaceChildren(root);
    root.dataset.drawMs = (performance.now() - t).toFixed(1);
    $("chart-info").textContent = npts + " points in " + series.length +
      " series, drawn in " + root.dataset.drawMs + " ms";
  }

  function nearest(pts, ts) {
    let lo = 0, hi = pts.length - 1;
    if (hi < 0) return null;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pts[mid][1] < ts) lo = mid + 1; else hi = mid;
    }
    if (lo > 0 && ts - pts[lo - 1][1] < pts[lo][1] - ts) lo--;
    return pts[lo];
  }

  function hover(ev) {
    const sc = view.scale, root = ev.currentTarget;
    if (!sc) return;
    const r = root.getBoundingClientRect();
    const x = (ev.clientX - r.left) * sc.W / r.width;
    if (x < sc.x0 || x > sc.x1) return;
    const ts = sc.t0 + (x - sc.x0) / (sc.x1 - sc.x0) * (sc.t1 - sc.t0);
    const cur = root.querySelector(".cursor");
    cur.setAttribute("x1", x);
    cur.setAttribute("x2", x);
    const tip = $("tooltip");
    tip.replaceChildren(el("div", "", new Date(ts * 1000).toLocaleString()));
    sc.series.forEach((s, i) => {
      const p = nearest(s.pts, ts);
      if (!p) return;
      const d = el("div");
      const sw = el("span", "swatch");
      sw.style.cssText = "display:inline-block;width:.8em;height:.8em;margin-right:.3em;" +
        "background:" + COLORS[i % COLORS.length];
      d.append(sw, document.createTextNode(s.name + " = " + p[0] + " @ " +
        new Date(p[1] * 1000).toLocaleTimeString()));
      tip.append(d);
    });
    const pr = $("chart-panel").getBoundingClientRect();
    tip.hidden = false;
    tip.style.left = Math.min(ev.clientX - pr.left + 12, pr.width - tip.offsetWidth) + "px";
    tip.style.top = (ev.clientY - pr.top + 12) + "px";
  }

  /*
   * A window ending now is followed by asking only for the last minute's
   * points (from a minute before the newest one held) and putting them in
   * place of that minute's; every FULL_MS, and whenever the selection or
   * the window changes, the whole window is read again, which also brings
   * points sent late with older timestamps. So a chart of 10,000 points
   * does not cost 10,000 points at every write the sink stores.
   *
   * A refresh and a click may both be asking: only the answer to the latest
   * question is drawn, or a slow answer for the old window would be drawn
   * in the new one.
   */
  function chartUpto() {
    let m = -Infinity;
    for (const s of view.series)
      if (s.datapoints.length) m = Math.max(m, s.datapoints[s.datapoints.length - 1][1]);
    return m === -Infinity ? null : m;
  }

  function mergeSeries(fresh, cutoff) {
    const byName = new Map(view.series.map((s) => [s.target, s]));
    for (const s of fresh) {
      const old = byName.get(s.target);
      if (!old) { view.series.push(s); continue; }
      const keep = old.datapoints.filter((p) => p[1] < cutoff);
      old.datapoints = keep.concat(s.datapoints);
    }
  }

  async function loadChart() {
    const seq = ++view.chartSeq;
    view.lastChart = Date.now();
    if (!state.targets.length) {
      view.series = [];
      view.chartKey = "";
      drawChart();
      return;
    }
    const key = JSON.stringify([state.targets, state.from, state.until]);
    const upto = chartUpto();
    const part = key === view.chartKey && state.until === "now" && upto !== null &&
      Date.now() - view.chartFull < FULL_MS;
    const cutoff = part ? upto - OVERLAP_S : null;
    const q = new URLSearchParams();
    for (const t of state.targets) q.append("target", t);
    q.set("from", part ? String(cutoff) : state.from);
    q.set("until", state.until);
    q.set("format", "json");
    const t = performance.now();
    const series = await get("/render?" + q);
    if (seq !== view.chartSeq) return;
    if (part) {
      mergeSeries(series, cutoff);
    } else {
      view.series = series;
      view.chartKey = key;
      view.chartFull = Date.now();
    }
    const fetched = performance.now();
    drawChart();
    const svgEl = $("chart").querySelector("svg");
    if (svgEl) {
      svgEl.dataset.fetchMs = (fetched - t).toFixed(1);
      svgEl.dataset.read = part ? "part" : "whole";
    }
  }

  function drawWindow() {
    const sel = $("range");
    const preset = state.until === "now" &&
      [...sel.options].some((o) => o.value === state.from);
    sel.value = preset ? state.from : "custom";
    $("from").value = state.from;
    $("until").value = state.until;
  }

  function setWindow(from, until) {
    const t = now();
    if (parseTime(from, t) == null || parseTime(until, t) == null) {
      $("chart-info").textContent = "from/until: epoch seconds, now, -1h, -10min, -1d…";
      return;
    }
    state.from = from;
    state.until = until;
    writeURL();
    drawWindow();
    loadChart().catch(showError);
  }

  /* -- logs ------------------------------------------------------------ */

  /* The files that have lines; the list is rebuilt only when it changed,
   * so an open drop-down stays open. */
  async function loadFiles() {
    const files = await get("/store/files");
    const sel = $("logfile"), cur = JSON.stringify([state.host, state.file]);
    const sig = JSON.stringify([cur, files.map((f) => [f.host, f.file])]);
    if (sig === view.filesSig) return;
    view.filesSig = sig;
    sel.replaceChildren();
    if (!files.length) sel.append(new Option("(no log lines yet)", ""));
    let found = false;
    for (const f of files) {
      const v = JSON.stringify([f.host, f.file]);
      sel.append(new Option(f.host + ": " + f.file, v));
      found = found || v === cur;
    }
    if (state.host && !found)
      sel.append(new Option(state.host + ": " + state.file + " (no lines yet)", cur));
    if (!state.host && files.length) {
      state.host = files[0].host;
      state.file = files[0].file;
      writeURL();
    }
    sel.value = state.host ? JSON.stringify([state.host, state.file]) : "";
  }

  function lineDiv(n, text) {
    const d = el("div", "ln");
    d.dataset.n = n;
    d.append(el("span", "no", n), document.createTextNode(text));
    return d;
  }

  async function loadLog() {
    const box = $("log"), key = state.host + "\n" + state.file;
    const raw = $("rawlog");
    raw.hidden = !state.host;
    if (!state.host) {
      box.replaceChildren();
      $("log-info").textContent = "ferry sends a file's lines here when a log " +
        "section names it";
      return;
    }
    raw.href = "/store/log?" + new URLSearchParams({ host: state.host, file: state.file });
    const base = "/store/lines?" + new URLSearchParams({ host: state.host,
      file: state.file });
    if (view.logKey !== key) {
      view.logKey = key;
      view.logLast = null;
      box.replaceChildren();
    }
    if (view.logLast !== null && !state.follow) return;
    const stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    let more = true, rounds = 0;
    while (more && rounds++ < 10) {
      const r = await get(base + (view.logLast === null ? "&tail=" + LOG_TAIL :
        "&after=" + view.logLast));
      if (view.logKey !== key) return;     /* another file was picked meanwhile */
      const frag = document.createDocumentFragment();
      for (const [n, text] of r.lines) frag.append(lineDiv(n, text));
      box.append(frag);
      view.logLast = r.last;
      more = r.more;
    }
    while (box.children.length > LOG_KEEP) box.firstChild.remove();
    $("log-info").textContent = box.children.length ? box.children.length +
      " lines shown, up to line " + view.logLast : "no lines";
    if (state.follow && stick) box.scrollTop = box.scrollHeight;
  }

  /* -- the loop -------------------------------------------------------- */

  function showError(e) {
    setStatus(String(e.message || e), true);
  }

  async function refresh() {
    if (view.busy) { view.again = true; return; }
    view.busy = true;
    try {
      const jobs = [loadHosts(), refreshTree(), loadFiles().then(loadLog),
        loadChart()];
      const res = await Promise.allSettled(jobs);
      const bad = res.find((r) => r.status === "rejected");
      if (bad) showError(bad.reason);
      else setStatus("up to date " + new Date().toLocaleTimeString());
    } finally {
      view.busy = false;
    }
    if (view.again) { view.again = false; refresh(); }
  }

  async function poll() {
    const t = Date.now();
    let wait = POLL_MS;
    view.timer = null;      /* none pending while this one runs */
    try {
      const c = await get("/changes");
      view.skew = c.now - Date.now() / 1000;
      if (view.down) view.down = false;
      if (c.gen !== view.gen) {
        view.gen = c.gen;
        await refresh();
      } else if (state.until === "now" && Date.now() - view.lastChart > SLIDE_MS) {
        drawHosts();
        await loadChart();
      }
      /* A sink that takes long to answer (a busy one, a large chart) is
       * asked again only after as long: this page keeps it half idle. */
      wait = Math.max(POLL_MS, Date.now() - t);
    } catch (e) {
      view.down = true;
      setStatus("sink unreachable: " + (e.message || e), true);
    }
    /* A tab nobody looks at asks ten times less often. */
    view.timer = setTimeout(poll, document.hidden ? 10 * wait : wait);
  }

  function wire() {
    $("add-target").onsubmit = (ev) => {
      ev.preventDefault();
      const v = $("target-input").value.trim();
      if (v) { $("target-input").value = ""; toggleTarget(v, true); }
    };
    $("range").onchange = () => {
      const v = $("range").value;
      if (v !== "custom") setWindow(v, "now");
      else $("from").focus();
    };
    $("window").onsubmit = (ev) => {
      ev.preventDefault();
      setWindow($("from").value.trim() || "-1h", $("until").value.trim() || "now");
    };
    $("from").onchange = $("until").onchange = () =>
      setWindow($("from").value.trim() || "-1h", $("until").value.trim() || "now");
    $("logfile").onchange = () => {
      const v = $("logfile").value;
      [state.host, state.file] = v ? JSON.parse(v) : ["", ""];
      view.filesSig = "";
      writeURL();
      loadLog().catch(showError);
    };
    $("follow").onchange = () => {
      state.follow = $("follow").checked;
      writeURL();
      loadLog().catch(showError);
    };
    document.addEventListener("visibilitychange", () => {
      if (document.hidden || view.timer === null) return;
      clearTimeout(view.timer);
      view.timer = setTimeout(poll, 0);
    });
    let resize = null;
    window.addEventListener("resize", () => {
      clearTimeout(resize);
      resize = setTimeout(drawChart, 100);
    });
  }

  readURL();
  openAncestors();
  $("follow").checked = state.follow;
  drawWindow();
  drawSelection();
  wire();
  poll();
})();
