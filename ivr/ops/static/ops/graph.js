// ivr ops console: the flow graph you can read (the flow page's Graph tab).
// Loads the drawing with the archive's numbers (map.svg?since=…) into #map, then pans
// (drag, arrow keys) and zooms (wheel, + / − / 1:1 / fit buttons, + − 0 1 keys) by moving
// the SVG's viewBox. A click on a state (or Enter on it) opens the Editor tab at the
// state's YAML line: it dispatches `ivr:goto-line` {detail: {line}} on document (the
// editor listens) and, when #yaml is a plain textarea, selects that line itself.
// No library, nothing inline (the console's CSP); without JavaScript a static <img> shows.
"use strict";

(function () {
  const READ = 1;            // px per drawing unit at "1:1": states' 12-unit labels draw at 12 px
  const MAX = 4;
  const STEP = 1.25;
  const PAN = 80;            // px per arrow key

  function initMap() {
    const box = document.getElementById("map");
    if (!box) return;
    const section = box.closest("section") || document;
    const caption = document.getElementById("map-caption");
    let svg = null, size = null, since = box.dataset.since || "7d";
    let scale = READ, x = 0, y = 0, placed = false;

    const fit = () => Math.min(box.clientWidth / size.w, box.clientHeight / size.h);
    const lowest = () => Math.min(fit(), READ) * 0.6;

    function apply() {
      if (!svg || !box.clientWidth) return;
      svg.setAttribute("viewBox",
        `${x.toFixed(2)} ${y.toFixed(2)} ${(box.clientWidth / scale).toFixed(2)} ${(box.clientHeight / scale).toFixed(2)}`);
      box.dataset.scale = scale.toFixed(3);
    }

    function zoomAt(factor, px, py) {       // keep the point under (px, py) where it is
      const next = Math.max(lowest(), Math.min(MAX, scale * factor));
      const ux = x + px / scale, uy = y + py / scale;
      scale = next;
      x = ux - px / scale;
      y = uy - py / scale;
      apply();
    }

    function centreOn(ux, uy) {
      x = ux - box.clientWidth / scale / 2;
      y = uy - box.clientHeight / scale / 2;
      apply();
    }

    function showAll() {
      scale = fit();
      centreOn(size.w / 2, size.h / 2);
    }

    function reading() {                  // labels readable: the top of the flow, its start centred
      scale = READ;
      x = 0; y = 0;
      apply();
      const start = svg.querySelector('g[data-state="__start__"]');
      let ux = size.w / 2;
      if (start) {
        const r = start.getBoundingClientRect(), b = box.getBoundingClientRect();
        ux = x + (r.left + r.width / 2 - b.left) / scale;
      }
      if (size.w * scale <= box.clientWidth) ux = size.w / 2;
      x = ux - box.clientWidth / scale / 2;
      y = -8 / scale;
      apply();
    }

    function place() {                    // the first time the box has a size
      if (placed || !svg || !box.clientWidth) return;
      placed = true;
      reading();
      box.dataset.loaded = since;
    }

    async function load(period) {
      since = period;
      box.classList.add("loading");
      try {
        const url = `${box.dataset.src}?since=${encodeURIComponent(period)}`;
        const resp = await fetch(url, { credentials: "same-origin" });
        if (!resp.ok) throw new Error(String(resp.status));
        const doc = new DOMParser().parseFromString(await resp.text(), "image/svg+xml");
        const fresh = document.importNode(doc.documentElement, true);
        if (fresh.nodeName.toLowerCase() !== "svg") throw new Error("not an SVG");
        const vb = (fresh.getAttribute("viewBox") || "0 0 100 100").split(/[\s,]+/).map(Number);
        size = { w: vb[2], h: vb[3] };
        fresh.removeAttribute("width");
        fresh.removeAttribute("height");
        fresh.setAttribute("preserveAspectRatio", "xMinYMin meet");
        if (svg) svg.replaceWith(fresh); else box.appendChild(fresh);
        svg = fresh;
        apply();
        place();
        if (placed) box.dataset.loaded = since;
        say(fresh);
      } catch (err) {
        if (caption) caption.textContent = `The drawing could not be loaded (${err.message}).`;
      } finally {
        box.classList.remove("loading");
      }
    }

    function say(root) {
      if (!caption) return;
      const link = section.querySelector(`nav.periods a[data-since="${since}"]`);
      const what = link ? link.title.replace(/^numbers of the /, "") : since;
      caption.textContent = root.dataset.numbers === "shown"
        ? `${root.dataset.calls} call${root.dataset.calls === "1" ? "" : "s"} in the ${what}`
        : "numbers unavailable: the call archive did not answer";
    }

    function goToLine(line) {
      const tab = document.querySelector('nav.tabs a[data-tab="editor"]');
      if (tab) tab.click();
      document.dispatchEvent(new CustomEvent("ivr:goto-line", { detail: { line } }));
      const ta = document.getElementById("yaml");
      if (!ta || ta.tagName !== "TEXTAREA") return;
      const lines = ta.value.split("\n");
      let pos = 0;
      for (let i = 0; i < line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
      const text = lines[line - 1] || "";
      const indent = text.length - text.trimStart().length;
      ta.focus();
      ta.setSelectionRange(pos + indent, pos + text.length);
      const lh = parseFloat(getComputedStyle(ta).lineHeight) || 20;
      ta.scrollTop = Math.max(0, (line - 5) * lh);
    }

    // --- pointer: drag to pan, a click (no drag) on a state to edit it
    let drag = null;
    box.addEventListener("pointerdown", (e) => {
      if (e.button !== 0 || !svg) return;
      drag = { px: e.clientX, py: e.clientY, x, y, moved: false,
               node: e.target.closest && e.target.closest("g[data-line]") };
      box.setPointerCapture(e.pointerId);
      box.classList.add("dragging");
    });
    box.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.px, dy = e.clientY - drag.py;
      if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
      x = drag.x - dx / scale;
      y = drag.y - dy / scale;
      apply();
    });
    const end = () => {
      if (!drag) return;
      const { node, moved } = drag;
      drag = null;
      box.classList.remove("dragging");
      if (node && !moved) goToLine(+node.dataset.line);
    };
    box.addEventListener("pointerup", end);
    box.addEventListener("pointercancel", () => { drag = null; box.classList.remove("dragging"); });
    box.addEventListener("wheel", (e) => {
      if (!svg) return;
      e.preventDefault();
      const b = box.getBoundingClientRect();
      const delta = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY;
      zoomAt(Math.exp(-delta * 0.0015), e.clientX - b.left, e.clientY - b.top);
    }, { passive: false });

    // --- keyboard and buttons
    box.addEventListener("keydown", (e) => {
      if (!svg) return;
      const node = e.target.closest && e.target.closest("g[data-line]");
      const w = box.clientWidth / 2, h = box.clientHeight / 2;
      const keys = {
        "+": () => zoomAt(STEP, w, h), "=": () => zoomAt(STEP, w, h),
        "-": () => zoomAt(1 / STEP, w, h), "0": showAll, "1": reading,
        ArrowLeft: () => { x -= PAN / scale; apply(); }, ArrowRight: () => { x += PAN / scale; apply(); },
        ArrowUp: () => { y -= PAN / scale; apply(); }, ArrowDown: () => { y += PAN / scale; apply(); },
      };
      if (node && (e.key === "Enter" || e.key === " ")) {
        e.preventDefault();
        goToLine(+node.dataset.line);
      } else if (keys[e.key] && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        keys[e.key]();
      }
    });
    section.querySelectorAll("button[data-zoom]").forEach((b) => b.addEventListener("click", () => {
      if (!svg) return;
      const w = box.clientWidth / 2, h = box.clientHeight / 2;
      ({ in: () => zoomAt(STEP, w, h), out: () => zoomAt(1 / STEP, w, h), read: reading,
         fit: showAll })[b.dataset.zoom]();
    }));
    section.querySelectorAll("nav.periods a[data-since]").forEach((a) => a.addEventListener("click", (e) => {
      e.preventDefault();
      section.querySelectorAll("nav.periods a[data-since]").forEach((o) => o.classList.toggle("on", o === a));
      history.replaceState(null, "", `?since=${encodeURIComponent(a.dataset.since)}#graph`);
      load(a.dataset.since);
    }));

    // The tab may be hidden at load: place the view once the box has a size.
    if (window.ResizeObserver) {
      new ResizeObserver(() => { if (placed) apply(); else place(); }).observe(box);
    }
    load(since);
  }

  document.addEventListener("DOMContentLoaded", initMap);
})();
