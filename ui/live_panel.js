// The live panel (ui/live_panel.py): a run's numbers, grid and curves, changed in place from the live feed
// (gan_core/livefeed.py) instead of redrawing the page. Every panel of a page shares one poller per feed: one fetch
// of status.json every poll_ms, and curves.json only when its revision changed and a panel draws curves.

const SVG = "http://www.w3.org/2000/svg";
const COLOURS = ["#4c78a8", "#f58518"];  // ui/charts.py's first two: the first line solid, the second dashed

function feedFor(base, pollMs) {
  const feeds = (window.__ganStudioFeeds = window.__ganStudioFeeds || {});
  let feed = feeds[base];
  if (feed) return feed;
  feed = feeds[base] = { subs: new Set(), doc: null, curves: null, triggered: null };
  const tick = async () => {
    if (!feed.subs.size) {
      delete feeds[base];
      return;
    }
    if (!document.hidden) {
      try {
        const r = await fetch(`${base}status.json?t=${Date.now()}`, { cache: "no-store" });
        if (r.ok) {
          feed.doc = await r.json();
          const wants = [...feed.subs].some((s) => s.curves);
          if (wants && (!feed.curves || feed.curves.rev !== feed.doc.curves_rev)) {
            const c = await fetch(`${base}curves.json?rev=${feed.doc.curves_rev}`, { cache: "no-store" });
            if (c.ok) feed.curves = await c.json();
          }
          feed.subs.forEach((s) => s.update(feed.doc, feed.curves));
        }
      } catch (e) {
        // the server restarting, or the feed's folder gone: the next tick tries again
      }
    }
    setTimeout(tick, pollMs);
  };
  setTimeout(tick, pollMs);
  return feed;
}

function el(tag, cls, parent) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (parent) parent.appendChild(e);
  return e;
}

function progress(root, sidebar) {
  const bar = el("div", "bar", root);
  const fill = el("div", "fill", bar);
  const text = el("div", sidebar ? "caption" : "ptext", root);
  const rate = sidebar ? el("div", "caption", root) : null;
  return (doc) => {
    fill.style.width = `${(100 * doc.progress).toFixed(2)}%`;
    text.textContent = sidebar ? doc.sidebar_progress : doc.progress_text;
    if (rate) rate.textContent = doc.sidebar_rate;
  };
}

function tiles(root) {
  const box = el("div", "tiles", root);
  let cells = [];
  return (doc) => {
    if (cells.length !== doc.tiles.length) {
      box.replaceChildren();
      cells = doc.tiles.map(() => {
        const tile = el("div", "tile", box);
        return [el("div", "label", tile), el("div", "value", tile)];
      });
    }
    doc.tiles.forEach(([label, value, help], i) => {
      if (cells[i][0].textContent !== label) cells[i][0].textContent = label;
      if (cells[i][1].textContent !== value) cells[i][1].textContent = value;
      cells[i][0].title = help || "";
    });
  };
}

function grid(root, base, download) {
  const img = el("img", "grid", root);
  img.alt = "the fixed-noise grid";
  const caption = el("div", "caption", root);
  const empty = el("div", "caption", root);
  empty.textContent = "The first fixed-noise grid appears when training starts.";
  let shown = null;
  return (doc) => {
    const g = doc.grid;
    empty.style.display = g ? "none" : "";
    img.style.display = g ? "" : "none";
    caption.style.display = g ? "" : "none";
    if (!g || g.file === shown) return;
    shown = g.file;
    img.src = base + g.file;
    caption.textContent = g.caption;
    if (download) download.href = base + g.file;
  };
}

function fmt(v) {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e4 || a < 1e-2)) return v.toExponential(1);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function chart(svgParent, spec) {
  const W = 460, H = 230, L = 52, R = 10, T = 30, B = 26;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", spec.title);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(SVG, tag);
    Object.entries(attrs).forEach(([k, v]) => e.setAttribute(k, v));
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
    return e;
  };
  const f = spec.log ? (v) => Math.log10(v) : (v) => v;
  const xs = spec.lines.flatMap((l) => l.x), ys = spec.lines.flatMap((l) => l.y.map(f));
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const pad = 0.05 * (y1 - y0);
  [y0, y1] = [y0 - pad, y1 + pad];
  const px = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  add("text", { x: 0, y: 14, class: "title" }, spec.title);
  for (let k = 0; k <= 2; k++) {
    const y = y0 + ((y1 - y0) * k) / 2;
    add("line", { x1: L, x2: W - R, y1: py(y), y2: py(y), class: "gridline" });
    add("text", { x: L - 4, y: py(y) + 4, class: "tick", "text-anchor": "end" }, fmt(spec.log ? 10 ** y : y));
  }
  add("text", { x: L, y: H - 6, class: "tick" }, `step ${Math.round(x0).toLocaleString("en")}`);
  add("text", { x: W - R, y: H - 6, class: "tick", "text-anchor": "end" },
      `step ${Math.round(x1).toLocaleString("en")}`);
  let lx = W - R;
  spec.lines.slice().reverse().forEach((line, j) => {
    const i = spec.lines.length - 1 - j;
    const label = add("text", { x: lx, y: 14, class: "legend", "text-anchor": "end", fill: COLOURS[i % 2] },
                      line.name);
    lx -= 8 + 7 * line.name.length;
    const pts = line.x.map((x, k) => `${px(x).toFixed(1)},${py(f(line.y[k])).toFixed(1)}`).join(" ");
    add("polyline", { points: pts, class: "line", stroke: COLOURS[i % 2],
                      "stroke-dasharray": i % 2 ? "5 3" : "none" });
    return label;
  });
  svgParent.replaceChildren(svg);
}

function curves(root) {
  const box = el("div", "charts", root);
  const empty = el("div", "caption", root);
  empty.textContent = "The curves appear after the first logged step.";
  let drawn = null;
  return (doc, data) => {
    if (!data || data.rev === drawn) return;
    drawn = data.rev;
    empty.style.display = data.charts.length ? "none" : "";
    box.replaceChildren();
    data.charts.forEach((spec) => chart(el("div", "chartbox", box), spec));
  };
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const mountedAt = Date.now();
  // Beside the component's own children (its <style>), replacing only the panel of an earlier render.
  if (parentElement.__livePanel) parentElement.__livePanel();
  const root = el("div", `livepanel ${data.part}`, parentElement);
  const parts = [];
  if (data.part === "status" || data.part === "sidebar") parts.push(progress(root, data.part === "sidebar"));
  if (data.part === "status") parts.push(tiles(root));
  if (data.part === "grid") parts.push(grid(root, data.base, null));
  const sub = { part: data.part, curves: data.part === "curves", update: null, t: undefined };
  if (data.part === "curves") parts.push(curves(root));

  const feed = feedFor(data.base, data.poll_ms);
  sub.update = (doc, curveData) => {
    // Never a feed older than the one shown: a fetch begun before this render (or before the page's own write)
    // can answer after it, and would show a step from before a pause until the next poll.
    if (sub.t !== undefined && doc.t < sub.t) return;
    sub.t = doc.t;
    parts.forEach((draw) => draw(doc, curveData));
    // A status, run or count of warnings other than the page was drawn with, or a first checkpoint (the downloads
    // it enables), in a feed written after the page was: rerun the page once (its buttons, badge, messages and
    // downloads follow the run). A later checkpoint needs none: the downloads fetch the newest when clicked.
    // With follow_saves_s, any new checkpoint too, at most once in that many seconds (the Checkpoints tab's list).
    const changed = doc.status !== data.status || doc.run_dir !== data.run_dir || doc.warnings !== data.warnings ||
      (doc.saved_step >= 0) !== (data.saved_step >= 0) ||
      (data.follow_saves_s > 0 && doc.saved_step !== data.saved_step && Date.now() - mountedAt >= 1000 * data.follow_saves_s);
    if (data.rerun && changed && doc.t > data.rendered_at && feed.triggered !== doc.t) {
      feed.triggered = doc.t;
      setTriggerValue("changed", doc.status);
    }
  };
  if (data.initial_curves && (!feed.curves || feed.curves.rev < data.initial_curves.rev)) {
    feed.curves = data.initial_curves;
  }
  if (data.initial) sub.update(data.initial, feed.curves);
  feed.subs.add(sub);
  const unmount = () => {
    feed.subs.delete(sub);
    root.remove();
    if (parentElement.__livePanel === unmount) delete parentElement.__livePanel;
  };
  parentElement.__livePanel = unmount;
  return unmount;
}
