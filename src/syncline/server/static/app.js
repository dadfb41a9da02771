// syncline web app: plain JavaScript, no framework, no CDN. Every string from the catalog is
// put on the page as text (never as HTML). Pages are routed by the URL hash.
"use strict";

const $ = (sel) => document.querySelector(sel);
const page = () => $("#page");
let ME = null;

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const kid of kids.flat()) e.append(kid instanceof Node ? kid : document.createTextNode(String(kid ?? "")));
  return e;
}

function status(msg) {
  $("#status").textContent = msg;
  if (msg) setTimeout(() => { if ($("#status").textContent === msg) $("#status").textContent = ""; }, 5000);
}

// A page that answers after the user moved on must not draw over the new page: every request
// remembers the route it was made for, and one that returns to another route is dropped.
let ROUTE = 0;
class Stale extends Error {}

async function api(path, body) {
  const at = ROUTE;
  const opts = body === undefined ? {} :
    { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  const r = await fetch("/api" + path, opts);
  const data = await r.json().catch(() => ({}));
  if (at !== ROUTE) throw new Stale("the page changed");
  if (!r.ok) throw new Error(data.error ? (typeof data.error === "string" ? data.error : JSON.stringify(data.error))
                                        : `HTTP ${r.status}`);
  return data;
}

const sec = (ns) => (ns === null || ns === undefined ? "" : (ns / 1e9).toFixed(3) + " s");

function table(cols, rows) {
  return el("table", {}, el("tr", {}, cols.map((c) => el("th", {}, c[0]))),
    rows.map((r) => el("tr", {}, cols.map((c) => el("td", {}, c[1](r))))));
}

function pager(data, go) {
  const prev = el("button", { disabled: data.offset <= 0, onclick: () => go(Math.max(0, data.offset - data.limit)) }, "‹ previous");
  const next = el("button", { disabled: data.offset + data.limit >= data.total, onclick: () => go(data.offset + data.limit) }, "next ›");
  const last = Math.min(data.total, data.offset + data.items.length);
  return el("div", { class: "pager" }, prev, next, ` ${data.total ? data.offset + 1 : 0}–${last} of ${data.total}`);
}

// ---------------------------------------------------------------- inventory

async function inventory() {
  const inv = await api("/inventory");
  page().replaceChildren(
    el("h2", {}, "Inventory"),
    el("p", {}, `${inv.entities} entities, ${inv.complete_entities} with every required modality (${inv.required.join(", ") || "none required"}); `,
      `${inv.hours_of_files} h of files, `, el("strong", { id: "aligned-hours" }, `${inv.aligned_hours} h aligned`),
      `, ${inv.unaligned_hours} h unaligned; ${inv.quarantined} file(s) quarantined.`),
    el("h3", {}, "Coverage: which modalities entities have together"),
    table([["modalities", (r) => r.modalities.join(" + ") || "(none)"], ["entities", (r) => r.entities]], inv.combinations),
    el("h3", {}, "Files per modality"),
    table([["modality", (r) => r.modality], ["files", (r) => r.files ?? r.assets ?? ""], ["hours", (r) => num(r.hours)]], inv.modalities),
    el("h3", {}, "Capture conditions"),
    table([["key", (r) => r.key], ["modality", (r) => r.modality],
           ["counts", (r) => Object.entries(r.counts).map(([k, v]) => `${k}: ${v}`).join(", ")],
           ["balance", (r) => (r.imbalanced ? "imbalanced " : "") + `(entropy ${r.entropy.toFixed(2)})`]], inv.context),
    el("ul", {}, inv.notes.map((n) => el("li", { class: "muted" }, n))));
}

// ---------------------------------------------------------------- entities

async function entities(offset = 0, q = "") {
  const data = await api(`/entities?offset=${offset}&limit=50&q=${encodeURIComponent(q)}`);
  const search = el("input", { placeholder: "entity ID contains…", value: q });
  search.addEventListener("change", () => entities(0, search.value));
  page().replaceChildren(el("h2", {}, "Entities"), search, pager(data, (o) => entities(o, q)),
    table([["entity", (r) => el("a", { href: `#/entity/${encodeURIComponent(r.entity_id)}` }, r.entity_id)],
           ["modalities", (r) => r.modalities.join(", ")], ["files", (r) => r.assets], ["longest", (r) => sec(r.longest_ns)]],
          data.items));
}

// ---------------------------------------------------------------- timeline

const TL = { data: null, raw: false, video: null, vasset: null, waves: {}, series: {}, specs: {}, showSpec: false,
             t: 0, view: [0, 1] };

// A spectrogram thumbnail (uint8 levels, moment-major) as an image: one column per moment.
function specImage(sp) {
  const raw = atob(sp.levels), img = new ImageData(sp.bins, sp.bands);
  for (let i = 0; i < sp.bins; i++) for (let b = 0; b < sp.bands; b++) {
    const v = raw.charCodeAt(i * sp.bands + b), o = ((sp.bands - 1 - b) * sp.bins + i) * 4;
    img.data[o] = Math.min(255, v * 1.5); img.data[o + 1] = Math.max(0, v * 2 - 255); img.data[o + 2] = Math.min(255, 60 + v * 0.6);
    img.data[o + 3] = 255;
  }
  const c = document.createElement("canvas"); c.width = sp.bins; c.height = sp.bands;
  c.getContext("2d").putImageData(img, 0, 0);
  return c;
}

function clockOf(a) {
  return TL.raw ? { off: a.raw_offset_ns, drift: a.raw_drift_ppm } : { off: a.offset_ns, drift: a.drift_ppm };
}
const toEntity = (a, localNs) => { const c = clockOf(a); return c.off + localNs * (1 + c.drift * 1e-6); };
const toLocal = (a, entityNs) => { const c = clockOf(a); return (entityNs - c.off) / (1 + c.drift * 1e-6); };

async function entity(id, atNs) {
  const d = await api(`/entities/${encodeURIComponent(id)}/timeline`);
  TL.data = d; TL.waves = {}; TL.series = {}; TL.specs = {};
  const vids = d.assets.filter((a) => a.modality === "video" && a.has_media);
  TL.vasset = vids[0] || null;
  // open on the video's span (the whole entity may be hours of sensor rows); the wheel zooms out
  const v0 = TL.vasset ? TL.vasset.offset_ns : d.t0_ns;
  const v1 = TL.vasset ? v0 + (TL.vasset.duration_ns || 1e9) : Math.max(d.t1_ns, d.t0_ns + 1e9);
  const pad = (v1 - v0) * 0.05;
  TL.view = [v0 - pad, v1 + pad];
  TL.t = atNs !== undefined ? atNs : v0;
  TL.video = TL.vasset ? el("video", { id: "video", src: `/api/assets/${encodeURIComponent(TL.vasset.asset_id)}/media`,
                                       preload: "auto", controls: true, muted: true }) : null;
  const canvas = el("canvas", { id: "timeline", tabindex: 0 });
  const rawBox = el("input", { type: "checkbox", id: "raw-time", checked: TL.raw });
  const specBox = el("input", { type: "checkbox", id: "show-spectrogram", checked: TL.showSpec });
  const loadSpecs = () => {
    for (const a of d.assets.filter((x) => x.modality === "audio" && x.has_media && !TL.specs[x.asset_id])) {
      api(`/assets/${encodeURIComponent(a.asset_id)}/spectrogram?bins=800`).then((sp) => {
        TL.specs[a.asset_id] = { ...sp, image: sp.bins ? specImage(sp) : null }; draw();
      }).catch((e) => { if (!(e instanceof Stale)) status(`${a.asset_id}: ${e.message}`); });
    }
  };
  specBox.addEventListener("change", () => { TL.showSpec = specBox.checked; if (TL.showSpec) loadSpecs(); draw(); });
  rawBox.addEventListener("change", () => { TL.raw = rawBox.checked; seek(TL.t); draw(); });
  const clock = el("span", { id: "clock" });
  const offsets = el("span", { id: "offsets", class: "muted" });
  page().replaceChildren(
    el("h2", {}, `Entity ${id}`),
    el("div", { class: "player" }, TL.video || el("p", { class: "muted" }, "no video file to play"), labelForm()),
    el("div", { class: "controls" },
       el("label", {}, rawBox, " raw time (before clock corrections)"), el("label", {}, specBox, " spectrogram"), clock, offsets,
       el("span", { class: "muted" }, "space: play/pause · ← →: one frame · click the timeline to seek, wheel to zoom")),
    canvas,
    el("h3", {}, "Findings on this entity"),
    table([["check", (r) => r.check], ["severity", (r) => r.severity], ["when", (r) => sec(r.t0_ns)], ["message", (r) => r.message]],
          d.findings));
  canvas.addEventListener("wheel", (ev) => {  // zoom around the pointer
    ev.preventDefault();
    const r = canvas.getBoundingClientRect(), [a, b] = TL.view, at = a + (ev.clientX - r.left) / r.width * (b - a);
    const k = ev.deltaY > 0 ? 1.25 : 0.8;
    TL.view = [at - (at - a) * k, at + (b - at) * k];
    draw();
  }, { passive: false });
  canvas.addEventListener("click", (ev) => {
    const r = canvas.getBoundingClientRect();
    seek(TL.view[0] + (ev.clientX - r.left) / r.width * (TL.view[1] - TL.view[0]));
  });
  if (TL.video) {
    TL.video.addEventListener("loadedmetadata", () => seek(TL.t));
    // the native controls seek too: follow the video whenever its time moves
    const follow = () => { TL.t = toEntity(TL.vasset, TL.video.currentTime * 1e9); draw(); };
    TL.video.addEventListener("seeked", follow);
    TL.video.addEventListener("timeupdate", follow);
    const tick = () => {
      if (!document.body.contains(TL.video)) return;
      if (!TL.video.paused) TL.t = toEntity(TL.vasset, TL.video.currentTime * 1e9);
      draw();
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }
  if (TL.showSpec) loadSpecs();
  for (const a of d.assets.filter((x) => x.has_media)) {
    const kind = a.modality === "audio" ? "waveform" : a.modality === "sensor" ? "series" : null;
    if (!kind) continue;
    api(`/assets/${encodeURIComponent(a.asset_id)}/${kind}?bins=1500`).then((w) => {
      (kind === "waveform" ? TL.waves : TL.series)[a.asset_id] = w; draw();
    }).catch((e) => { if (!(e instanceof Stale)) status(`${a.asset_id}: ${e.message}`); });
  }
  draw();
}

async function reloadTimeline() {
  const d = await api(`/entities/${encodeURIComponent(TL.data.entity_id)}/timeline`);
  TL.data = { ...d, assets: TL.data.assets };  // the files (and their waveforms) have not changed
  draw();
}

function seek(entityNs) {
  TL.t = entityNs;
  if (TL.video && TL.vasset) TL.video.currentTime = Math.max(0, toLocal(TL.vasset, entityNs) / 1e9);
  draw();
}

function step(frames) {
  if (!TL.video || !TL.vasset) return;
  TL.video.pause();
  const fps = TL.vasset.fps || 25;
  const local = Math.max(0, TL.video.currentTime + frames / fps);
  TL.video.currentTime = local;
  TL.t = toEntity(TL.vasset, local * 1e9);
  draw();
}

document.addEventListener("keydown", (ev) => {
  if (!TL.video || !document.body.contains(TL.video) || ["INPUT", "SELECT", "TEXTAREA"].includes(ev.target.tagName)) return;
  if (ev.key === "ArrowRight" || ev.key === ".") { step(1); ev.preventDefault(); }
  else if (ev.key === "ArrowLeft" || ev.key === ",") { step(-1); ev.preventDefault(); }
  else if (ev.key === " ") { TL.video.paused ? TL.video.play() : TL.video.pause(); ev.preventDefault(); }
});

function draw() {
  const canvas = $("#timeline");
  if (!canvas || !TL.data) return;
  const d = TL.data, W = canvas.clientWidth;
  const specLanes = TL.showSpec ? d.assets.filter((a) => a.modality === "audio").length : 0;
  const H = 32 * (d.assets.length + 6) + 8 + 40 * specLanes;
  canvas.style.height = `${H}px`;
  if (canvas.width !== W) canvas.width = W;
  if (canvas.height !== H) canvas.height = H;
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, W, H);
  const [v0, v1] = TL.view, x = (ns) => (ns - v0) / (v1 - v0) * W;
  let y = 4;
  const lane = (name, h, fn) => { g.fillStyle = "#6b7385"; g.font = "11px system-ui"; g.fillText(name, 4, y + 11); fn(y + 14, h); y += h + 18; };
  for (const a of d.assets) {
    const c = clockOf(a), len = (a.duration_ns || 0) * (1 + c.drift * 1e-6);
    const spec = TL.showSpec && a.modality === "audio" ? TL.specs[a.asset_id] : null;
    lane(`${a.modality} ${a.camera || a.mic || a.channel || ""} ${a.asset_id.slice(0, 8)}  offset ${(c.off / 1e6).toFixed(1)} ms`,
         TL.showSpec && a.modality === "audio" ? 54 : 14, (yy, h) => {
      g.fillStyle = a.clock_source && a.clock_source.startsWith("estimated:") ? "#cfe8d4" : "#e3e7ef";
      g.fillRect(x(c.off), yy, x(c.off + len) - x(c.off), h);
      if (spec && spec.image) {  // low frequencies at the bottom; placed through the file's clock
        const t0 = toEntity(a, spec.start_ns), t1 = toEntity(a, spec.start_ns + spec.bins * spec.step_ns);
        g.imageSmoothingEnabled = false;
        g.drawImage(spec.image, x(t0), yy, x(t1) - x(t0), h);
        return;
      }
      const w = TL.waves[a.asset_id];
      if (w) {
        g.strokeStyle = "#3a6ea5"; g.beginPath();
        w.min.forEach((lo, i) => { const t = toEntity(a, w.start_ns + i * w.step_ns), xx = x(t);
          g.moveTo(xx, yy + h / 2 - w.max[i] * h / 2); g.lineTo(xx, yy + h / 2 - lo * h / 2); });
        g.stroke();
      }
      const s = TL.series[a.asset_id];
      if (s) for (const ch of Object.values(s.channels)) {
        const all = ch.min.concat(ch.max).filter((v) => v !== null);
        if (!all.length) continue;
        const lo = all.reduce((m, v) => Math.min(m, v)), hi = all.reduce((m, v) => Math.max(m, v)), span = hi - lo || 1;
        g.strokeStyle = "#8a5a00"; g.beginPath();
        let pen = false;  // a bin with no value (a gap in the rows) breaks the line
        ch.max.forEach((v, i) => {
          if (v === null) { pen = false; return; }
          const xx = x(toEntity(a, s.t_ns[i])), yv = yy + h - (v - lo) / span * h;
          pen ? g.lineTo(xx, yv) : g.moveTo(xx, yv); pen = true;
        });
        g.stroke();
      }
    });
  }
  const spans = (name, rows, color, text) => lane(name, 14, (yy, h) => {
    for (const r of rows) {
      const x0 = x(r.t0_ns ?? r.t_ns), x1 = Math.max(x0 + 2, x(r.t1_ns ?? r.t_ns));
      if (x1 < 0 || x0 > W) continue;
      g.fillStyle = color; g.fillRect(x0, yy, x1 - x0, h);
      if (text && x1 - x0 > 30) { g.fillStyle = "#111"; g.fillText(String(text(r)).slice(0, 20), x0 + 2, yy + 11); }
    }
  });
  const words = d.words.map((w) => { const a = d.assets.find((z) => z.asset_id === w.asset_id);
    return a ? { ...w, t0_ns: toEntity(a, w.t0_ns), t1_ns: toEntity(a, w.t1_ns) } : w; });
  spans("words", words, "#f3e2ff", (r) => r.text);
  spans("events", d.events, "#ffd9a8", (r) => `${r.type} ${r.state || ""}`);
  spans("segments", d.segments, "rgba(120,140,170,.25)", null);
  spans("labels", d.labels.filter((l) => l.t0_ns !== null), "#c8f0c8", (r) => `${r.field}=${r.value}${r.grade ? " ✓" + r.grade : ""}`);
  spans("predictions", d.predictions, "#ffe0e0", (r) => `${r.field}=${r.value} (${r.route || ""})`);
  spans("findings", d.findings.filter((f) => f.t0_ns !== null), "#ffc2c2", (r) => r.check);
  g.strokeStyle = "#d00"; g.beginPath(); g.moveTo(x(TL.t), 0); g.lineTo(x(TL.t), H); g.stroke();
  const clock = $("#clock");
  if (clock) clock.textContent = `entity time ${sec(TL.t)}`;
  const offs = $("#offsets");
  if (offs) offs.textContent = d.assets.filter((a) => a.raw_offset_ns !== a.offset_ns)
    .map((a) => `${a.asset_id.slice(0, 8)} corrected by ${((a.offset_ns - a.raw_offset_ns) / 1e6).toFixed(1)} ms`).join(" · ");
}

// Segments live on the entity timeline as corrected: label by where the video is on the
// corrected clock, whichever clock the page is showing.
function labelTime() {
  if (!TL.video || !TL.vasset) return TL.t;
  const a = TL.vasset;
  return a.offset_ns + TL.video.currentTime * 1e9 * (1 + a.drift_ppm * 1e-6);
}

function segmentAt(t) {
  const inside = TL.data.segments.filter((s) => s.t0_ns <= t && t < s.t1_ns);
  inside.sort((a, b) => (a.t1_ns - a.t0_ns) - (b.t1_ns - b.t0_ns));
  return inside[0] || null;
}

// The label panel: any field the annotator is qualified for. What it is attached to follows
// the field's granularity (the segment or the nearest event at the playhead, the entity, an
// image of the entity); the value editor follows its type (a choice, several, a number, text,
// a box or polygon drawn on the image, a time span marked on the timeline).
function nearestEvent(t) {
  let best = null;
  for (const e of TL.data.events) if (!best || Math.abs(e.t_ns - t) < Math.abs(best.t_ns - t)) best = e;
  return best && Math.abs(best.t_ns - t) <= 2e9 ? best : null;
}

// A shape drawn on one of the entity's images, in the image's own pixels: a box is dragged; a
// polygon is clicked point by point (three or more; "clear" starts again).
function shapeEditor(images, kind, onShape) {
  const pick = el("select", { id: "label-image" }, images.map((a) => el("option", { value: a.asset_id }, `${a.asset_id.slice(0, 8)} ${a.width}×${a.height}`)));
  const img = el("img", { id: "label-img", alt: "image to draw on", draggable: "false" });
  const canvas = el("canvas", { id: "label-draw", class: "draw" });
  const wrap = el("div", { class: "drawwrap" }, img, canvas);
  let start = null, box = null, points = [];
  const asset = () => images.find((a) => a.asset_id === pick.value);
  const ready = () => (kind === "box" ? box : (points.length >= 3 ? points.map((q) => [...q]) : null));
  const paint = () => {
    canvas.width = img.clientWidth; canvas.height = img.clientHeight;
    const g = canvas.getContext("2d"); g.clearRect(0, 0, canvas.width, canvas.height);
    const a = asset(), k = img.clientWidth / a.width;
    g.strokeStyle = "#e00"; g.fillStyle = "#e00"; g.lineWidth = 2;
    if (kind === "box") { if (box) g.strokeRect(box[0] * k, box[1] * k, (box[2] - box[0]) * k, (box[3] - box[1]) * k); return; }
    points.forEach(([x, y]) => g.fillRect(x * k - 3, y * k - 3, 6, 6));
    if (points.length > 1) {
      g.beginPath(); g.moveTo(points[0][0] * k, points[0][1] * k);
      points.slice(1).forEach(([x, y]) => g.lineTo(x * k, y * k));
      if (points.length >= 3) g.closePath();
      g.stroke();
    }
  };
  const clear = () => { box = null; points = []; paint(); onShape(null, asset()); };
  const show = () => { img.src = `/api/assets/${encodeURIComponent(pick.value)}/media`; box = null; points = []; onShape(null, asset()); };
  const at = (ev) => { const r = canvas.getBoundingClientRect(), a = asset(), k = a.width / r.width;
    return [Math.max(0, Math.min(a.width, Math.round((ev.clientX - r.left) * k))), Math.max(0, Math.min(a.height, Math.round((ev.clientY - r.top) * k)))]; };
  if (kind === "box") {
    canvas.addEventListener("mousedown", (ev) => { start = at(ev); });
    canvas.addEventListener("mousemove", (ev) => { if (!start) return; const p = at(ev);
      box = [Math.min(start[0], p[0]), Math.min(start[1], p[1]), Math.max(start[0], p[0]), Math.max(start[1], p[1])]; paint(); });
    canvas.addEventListener("mouseup", () => { start = null; if (box && box[2] > box[0] && box[3] > box[1]) onShape(ready(), asset()); });
  } else {
    canvas.addEventListener("click", (ev) => { points.push(at(ev)); paint(); onShape(ready(), asset()); });
  }
  img.addEventListener("load", paint);
  pick.addEventListener("change", show);
  show();
  return el("div", {}, pick, wrap, el("button", { id: "label-shape-clear", onclick: clear }, "clear"));
}

function labelForm() {
  const fields = Object.entries(ME.fields).filter(([, f]) => f.label);
  if (!fields.length) return el("p", { class: "muted" }, ME.role === "owner" ? "(the owner's login reads; label with an annotator's link)"
                                                                            : "no field you are qualified to label");
  const field = el("select", { id: "label-field" }, fields.map(([n]) => el("option", { value: n }, n)));
  const editor = el("div", { id: "label-editor" });
  const where = el("p", { id: "label-target", class: "muted" });
  let read = () => null, target = () => null;
  const render = () => {
    const f = ME.fields[field.value], parts = [];
    let span = [null, null], box = null, region = null;
    read = () => null;
    const choose = (values, id) => el("select", { id }, values.map((v) => el("option", { value: v }, v)));
    if (f.type === "class" || f.type === "ordinal") { const sel = choose(f.values, "label-value"); parts.push(sel); read = () => sel.value; }
    else if (f.type === "multi_label") {
      const boxes = f.values.map((v) => el("input", { type: "checkbox", value: v, class: "label-multi" }));
      parts.push(...f.values.map((v, i) => el("label", {}, boxes[i], ` ${v} `)));
      read = () => boxes.filter((b) => b.checked).map((b) => b.value);
    } else if (f.type === "number") { const n = el("input", { type: "number", id: "label-value", step: "any" }); parts.push(n); read = () => (n.value.trim() === "" ? null : Number(n.value)); }
    else if (f.type === "text") { const t = el("input", { type: "text", id: "label-value" }); parts.push(t); read = () => t.value; }
    else if (f.type === "time_span") {
      const cls = f.values.length ? choose(f.values, "label-value") : null;
      const shown = el("span", { id: "label-span" }, "no span marked");
      const mark = (i) => () => { span[i] = Math.round(labelTime()); shown.textContent = `${sec(span[0])} – ${sec(span[1])}`; };
      parts.push(el("button", { id: "label-mark-start", onclick: mark(0) }, "mark start"), el("button", { id: "label-mark-end", onclick: mark(1) }, "mark end"), " ", shown);
      if (cls) parts.push(" ", cls);
      read = () => (cls ? [span[0], span[1], cls.value] : [span[0], span[1]]);
    } else if (f.type === "box" || f.type === "polygon") {
      const images = TL.data.assets.filter((a) => a.modality === "image" && a.has_media && a.width && a.height);
      if (!images.length) parts.push(el("p", { class: "muted" }, "no image of this entity to draw on"));
      else {
        const cls = f.values.length ? choose(f.values, "label-value") : null;
        const todo = f.type === "box" ? "drag a box on the image" : "click three or more points on the image";
        parts.push(shapeEditor(images, f.type, (b, a) => {
          box = b; region = a;
          where.textContent = b ? `${f.type} ${JSON.stringify(b)} on ${a.asset_id.slice(0, 8)}` : todo;
        }));
        if (cls) parts.push(cls);
        read = () => (box ? (cls ? [...box, cls.value] : box) : null);
      }
    }
    target = () => {
      if (f.granularity === "segment") { const s = segmentAt(labelTime()); return s ? { target_id: s.segment_id, what: `segment ${sec(s.t0_ns)}–${sec(s.t1_ns)}` } : null; }
      if (f.granularity === "event") { const e = nearestEvent(labelTime()); return e ? { target_id: e.event_id, what: `event ${e.type} ${e.state || ""} at ${sec(e.t_ns)}` } : null; }
      if (f.granularity === "region") return region ? { target_id: region.asset_id, what: `image ${region.asset_id.slice(0, 8)}` } : null;
      return { target_id: TL.data.entity_id, what: `entity ${TL.data.entity_id}` };
    };
    const hint = { segment: "the segment under the playhead", event: "the event nearest the playhead (within 2 s)",
                   region: "the image, by the shape you draw", entity: "the whole entity", sequence: "the whole entity" };
    where.textContent = `attached to ${hint[f.granularity] || f.granularity}`;
    editor.replaceChildren(...parts);
  };
  field.addEventListener("change", render); render();
  const save = el("button", { id: "label-save", onclick: async () => {
    const t = target(), value = read();
    if (!t) { status(`nothing to attach ${field.value} to here`); return; }
    if (value === null) {
      const type = ME.fields[field.value].type;
      status(type === "box" || type === "polygon" ? `draw the ${type} first` : "enter a value first"); return;
    }
    try {
      const res = await api("/labels", { labels: [{ field: field.value, value, target_id: t.target_id }] });
      if (res.written) await reloadTimeline();  // the new label on the timeline; the panel keeps its state
      status(res.written ? `labelled ${field.value}=${JSON.stringify(value)} on ${t.what}` : `refused: ${res.refused[0].reason}`);
    } catch (e) { status(e.message); }
  } }, "Save label");
  return el("div", {}, el("h3", {}, "Label"), field, editor, where, el("p", {}, save));
}

// ---------------------------------------------------------------- queues

// After a write, a queue is redrawn first and then the status line says what was written, so
// what it says is on screen; a redraw that fails says so without hiding the write.
async function redrawn(redraw, done) {
  try { await redraw(); } catch (e) {
    if (e instanceof Stale) return;
    status(`${done} (written; the queue could not be refreshed: ${e.message})`);
    return;
  }
  status(done);
}

async function grading(offset = 0) {
  const data = await api(`/queue/grading?offset=${offset}&limit=50`);
  const send = async (r, body) => {
    try {
      const res = await api("/grades", { grades: [body] });
      if (!res.written) { status(`refused: ${res.refused[0].reason}`); return; }
      await redrawn(() => grading(offset), `${body.verdict}: ${r.field}=${r.value} by ${r.annotator}`);
    } catch (e) { if (!(e instanceof Stale)) status(e.message); }
  };
  // a fix is the grader's own value, entered in the row: a choice for classes, else typed
  // (numbers, and lists or shapes as JSON, e.g. [10, 20, 60, 80] for a box)
  const fixer = (r, cell) => () => {
    const f = ME.fields[r.field] || { type: "text", values: [] };
    const input = ["class", "ordinal"].includes(f.type)
      ? el("select", { class: "fix-value" }, f.values.map((v) => el("option", { value: v, selected: v === r.value }, v)))
      : el("input", { class: "fix-value", value: r.value, size: 24 });
    const ok = el("button", { class: "fix-save", onclick: () => {
      let value = input.value;
      if (!["class", "ordinal", "text"].includes(f.type)) {
        try { value = JSON.parse(input.value); } catch { status(`not a valid ${f.type} value: ${input.value}`); return; }
      }
      send(r, { label_id: r.label_id, verdict: "fix", value });
    } }, "save fix");
    cell.replaceChildren(input, ok, el("button", { onclick: () => grading(offset) }, "cancel"));
  };
  page().replaceChildren(el("h2", {}, "Grading queue"), pager(data, grading),
    table([["entity", (r) => r.entity_id ? el("a", { href: `#/entity/${encodeURIComponent(r.entity_id)}?t=${r.t0_ns ?? 0}` }, r.entity_id) : ""],
           ["when", (r) => sec(r.t0_ns)], ["field", (r) => r.field], ["value", (r) => r.value], ["by", (r) => r.annotator],
           ["", (r) => {
             const cell = el("span", { "data-label": r.label_id });
             cell.append(el("button", { class: "accept", onclick: () => send(r, { label_id: r.label_id, verdict: "accept" }) }, "accept"),
                         el("button", { class: "fix", onclick: fixer(r, cell) }, "fix"),
                         el("button", { class: "reject", onclick: () => send(r, { label_id: r.label_id, verdict: "reject" }) }, "reject"));
             return cell;
           }]],
          data.items));
}

async function review(offset = 0) {
  const data = await api(`/queue/review?offset=${offset}&limit=50`);
  const answer = (r, v) => async () => {
    try {
      const res = await api("/labels", { labels: [{ field: r.field, value: v, target_id: r.target_id }] });
      if (!res.written) { status(`refused: ${res.refused[0].reason}`); return; }
      await redrawn(() => review(offset), `answered ${r.field}=${v}`);
    } catch (e) { if (!(e instanceof Stale)) status(e.message); }
  };
  page().replaceChildren(el("h2", {}, "Human review: decisions a pipeline routed to people"), pager(data, review),
    table([["entity", (r) => el("a", { href: `#/entity/${encodeURIComponent(r.entity_id)}?t=${r.t0_ns}` }, r.entity_id)],
           ["when", (r) => sec(r.t0_ns)], ["field", (r) => r.field], ["model said", (r) => `${r.value} (${(r.score ?? 0).toFixed(2)})`],
           ["answer", (r) => (ME.fields[r.field] && ME.fields[r.field].label)
             ? ME.fields[r.field].values.map((v) => el("button", { onclick: answer(r, v) }, v)) : el("span", { class: "muted" }, "not qualified")]],
          data.items));
}

// ---------------------------------------------------------------- findings and evaluation

async function findings(offset = 0) {
  const data = await api(`/findings?offset=${offset}&limit=50`);
  page().replaceChildren(el("h2", {}, "Audit findings"), pager(data, findings),
    table([["severity", (r) => el("span", { class: `sev-${r.severity}` }, r.severity)], ["check", (r) => r.check],
           ["where", (r) => r.entity_id ? el("a", { href: `#/entity/${encodeURIComponent(r.entity_id)}?t=${r.t0_ns ?? 0}` },
                                             `${r.entity_id} ${sec(r.t0_ns)}`) : (r.target_id || "")],
           ["message", (r) => r.message], ["evidence", (r) => JSON.stringify(r.details).slice(0, 160)]], data.items));
}

function forest(metrics) {
  const rows = metrics.filter((m) => m.metric === "accuracy" && !m.label && m.value !== null && m.value !== undefined);
  const W = 640, rowH = 18, H = rows.length * rowH + 30, x0 = 220, x = (v) => x0 + v * (W - x0 - 20);
  const ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", W); svg.setAttribute("height", H); svg.setAttribute("id", "forest");
  const add = (tag, attrs, text) => { const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); if (text) e.textContent = text; svg.append(e); };
  rows.forEach((m, i) => {
    const y = 10 + i * rowH;
    add("text", { x: 4, y: y + 4 }, `${m.slice} (n ${m.n})`);
    if (m.lo !== null && m.lo !== undefined && m.hi !== null && m.hi !== undefined) add("line", { x1: x(m.lo), x2: x(m.hi), y1: y, y2: y, stroke: "#3a6ea5", "stroke-width": 2 });
    add("circle", { cx: x(m.value), cy: y, r: 3, fill: m.n < 30 ? "#999" : "#1d2330" });
  });
  for (const v of [0, 0.5, 1]) add("text", { x: x(v) - 6, y: H - 4 }, String(v));
  return svg;
}

const num = (x, d = 3) => (x === null || x === undefined ? "—" : Number(x).toFixed(d));
const interval = (lo, hi, d = 3) => (lo === null || lo === undefined || hi === null || hi === undefined ? "" : `[${num(lo, d)}, ${num(hi, d)}]`);

function answerText(a) {
  if (a.answer !== undefined) return el("div", {}, el("strong", {}, String(a.answer)), el("ul", {}, (a.why || []).map((w) => el("li", {}, w))));
  if (a.model !== undefined) return `${[].concat(a.model).join(" ")} (run ${String(a.run_id).slice(0, 12)}): ${a.why}`;
  if (a.baselines) return el("ul", {}, a.baselines.map((b) => el("li", {}, `${b.slice}: share ${num(b.share, 2)}, abstain ${num(b.abstain_rate, 2)}`)));
  return JSON.stringify(a).slice(0, 400);
}

const QUESTIONS = ["which_model", "is_it_safe", "is_it_ready", "can_we_deploy", "what_to_monitor"];

async function evaluation() {
  const ev = await api("/evaluation");
  if (!ev.run) { page().replaceChildren(el("h2", {}, "Evaluation"), el("p", { id: "eval-note" }, ev.note)); return; }
  const parts = [el("h2", {}, `Evaluation ${ev.run.run_id.slice(0, 12)}`)];
  if (ev.report) {
    parts.push(el("h3", {}, `Five answers (${ev.report.file})`),
      table([["question", (r) => r[0].replaceAll("_", " ") + "?"], ["answer", (r) => answerText(r[1])]],
            QUESTIONS.filter((q) => q in ev.report.answers).map((q) => [q, ev.report.answers[q]])),
      el("h3", {}, "Gates"),
      table([["gate", (r) => r.gate], ["slice", (r) => r.slice], ["verdict", (r) => el("span", { class: r.verdict === "fail" ? "sev-error" : "" }, r.verdict)],
             ["value", (r) => `${num(r.value)} ${interval(r.lo, r.hi)}`], ["n", (r) => r.n], ["why", (r) => r.why || ""]],
            ev.report.gates || []));
    const red = ev.report.redteam;
    if (red && red.perturbations) parts.push(el("h3", {}, "Red team: decisions that flip or are lost when the input is perturbed (overall)"),
      table([["perturbation", (r) => r.perturbation], ["flip rate", (r) => { const c = (r.changes || []).find((x) => x.slice === "overall") || {};
                                                                             return `${num(c.flip_rate)} ${interval(c.flip_lo, c.flip_hi)}`; }],
             ["lost", (r) => { const c = (r.changes || []).find((x) => x.slice === "overall") || {}; return `${num(c.lost_rate)} ${interval(c.lost_lo, c.lost_hi)}`; }],
             ["paired rows", (r) => r.paired_rows]], red.perturbations));
  }
  parts.push(el("h3", {}, "Accuracy per slice, 95 % intervals (grey: under 30 rows)"), forest(ev.metrics),
    table([["slice", (m) => m.slice], ["metric", (m) => m.metric + (m.label ? ` ${m.label}` : "")],
           ["value", (m) => num(m.value)], ["95 % interval", (m) => interval(m.lo, m.hi)], ["n", (m) => m.n]],
          ev.metrics.filter((m) => !m.label)));
  page().replaceChildren(...parts);
}

// ---------------------------------------------------------------- router

async function route() {
  ROUTE += 1;
  const h = location.hash.slice(2) || "inventory";
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", h.startsWith(a.getAttribute("href").slice(2))));
  try {
    if (h.startsWith("entity/")) {  // #/entity/<id, URI-encoded>?t=<entity ns>
      const rest = h.slice(7), q = rest.lastIndexOf("?t=");
      const id = decodeURIComponent(q < 0 ? rest : rest.slice(0, q));
      await entity(id, q < 0 ? undefined : Number(rest.slice(q + 3)));
    } else if (h === "entities") await entities();
    else if (h === "grading") await grading();
    else if (h === "review") await review();
    else if (h === "findings") await findings();
    else if (h === "evaluation") await evaluation();
    else await inventory();
  } catch (e) { if (!(e instanceof Stale)) page().replaceChildren(el("p", { class: "sev-error" }, e.message)); }
}

(async () => {
  ME = await api("/me");
  $("#me").textContent = `${ME.name} (${ME.tier || ME.role}) · ${ME.project}`;
  window.addEventListener("hashchange", route);
  route();
})();
