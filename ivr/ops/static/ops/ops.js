// ivr ops console: small progressive enhancements. Every page works without this file.
"use strict";
document.documentElement.classList.add("js");

// The one way text reaches innerHTML: every value from the server or the editor goes
// through esc (text and attribute values alike).
function esc(s) {
  return String(s ?? "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

// --- tabs (Editor / Graph / History) ----------------------------------------------
function initTabs() {
  const links = document.querySelectorAll("nav.tabs a[data-tab]");
  if (!links.length) return;
  const show = (name) => {
    links.forEach((a) => a.classList.toggle("on", a.dataset.tab === name));
    document.querySelectorAll("section.tab").forEach((s) => s.classList.toggle("on", s.id === name));
  };
  links.forEach((a) => a.addEventListener("click", (e) => {
    e.preventDefault();
    show(a.dataset.tab);
    history.replaceState(null, "", "#" + a.dataset.tab);
  }));
  const want = location.hash.slice(1);
  show([...links].some((a) => a.dataset.tab === want) ? want : links[0].dataset.tab);
}

// --- the YAML editor ---------------------------------------------------------------
function initEditor() {
  const box = document.querySelector(".editor");
  if (!box || box.dataset.cm) return;   // CodeMirror (editor.js) has taken over
  const ta = box.querySelector("textarea");
  const gutter = box.querySelector(".gutter");
  const backdrop = box.querySelector(".backdrop");
  const list = document.getElementById("problems");
  const status = document.getElementById("check-status");
  const publish = document.getElementById("publish");
  const tryDraft = document.getElementById("try-draft");
  let problems = JSON.parse(document.getElementById("problems-data").textContent || "[]");
  let timer = null;
  let seq = 0;
  const maxBody = +box.dataset.maxBody || 0;
  const form = ta.form;

  // A body over max_body is refused whole (413): say so here and keep the text, rather
  // than sending it and landing on an error page.
  function tooLarge() {
    if (!maxBody || !form) return false;
    const body = new URLSearchParams(new FormData(form)).toString();
    return new Blob([body]).size > maxBody;
  }
  if (form) form.addEventListener("submit", (e) => {
    if (!tooLarge()) return;
    e.preventDefault();
    status.innerHTML = `<span class="badge bad" id="too-large">too large: over ${maxBody} bytes, not sent</span>`;
  });

  function byLine() {
    const m = new Map();
    for (const p of problems) {
      if (!p.line) continue;
      const prev = m.get(p.line);
      if (!prev || (prev.severity !== "error" && p.severity === "error")) m.set(p.line, p);
    }
    return m;
  }

  function paint() {
    const lines = ta.value.split("\n");
    const marks = byLine();
    let g = "", b = "";
    lines.forEach((text, i) => {
      const p = marks.get(i + 1);
      const cls = p ? esc(p.severity) : "";
      g += `<div class="${cls}" title="${p ? esc(p.code + " " + p.message) : ""}">${i + 1}</div>`;
      if (p) {
        const from = Math.max(0, (p.col || 1) - 1);
        let to = p.end_col ? p.end_col - 1 : text.length;
        if (to <= from) to = text.length;
        const body = esc(text.slice(0, from)) + "<mark>" + esc(text.slice(from, to) || " ") +
          "</mark>" + esc(text.slice(to));
        b += `<span class="ln ${cls}">${body}</span>`;
      } else {
        b += `<span class="ln">${esc(text) || " "}</span>`;
      }
    });
    gutter.innerHTML = g;
    backdrop.innerHTML = b + '<span class="ln"> </span>';
    sync();
  }

  function sync() {
    backdrop.scrollTop = ta.scrollTop;
    backdrop.scrollLeft = ta.scrollLeft;
    gutter.scrollTop = ta.scrollTop;
  }

  function renderList() {
    list.innerHTML = problems.map((p) =>
      `<li class="${esc(p.severity)}" data-line="${esc(p.line)}">` +
      `<button type="button" class="loc" data-line="${esc(p.line)}" data-col="${esc(p.col)}">line ${esc(p.line)}:${esc(p.col)}</button> ` +
      `<span class="sev">${esc(p.severity)}[${esc(p.code)}]</span> <span class="msg">${esc(p.message)}</span>` +
      `<pre class="cli">${esc(p.text)}</pre></li>`).join("");
    const errors = problems.filter((p) => p.severity === "error").length;
    const warnings = problems.length - errors;
    status.innerHTML = errors ? `<span class="badge bad">${errors} error${errors === 1 ? "" : "s"}</span>`
      : warnings ? `<span class="badge warn">${warnings} warning${warnings === 1 ? "" : "s"}</span>`
      : '<span class="badge ok">no problems</span>';
    if (publish) {
      publish.disabled = errors > 0;
      publish.title = errors ? "Fix the errors first" : "";
    }
    if (tryDraft) tryDraft.disabled = errors > 0;
  }

  async function check() {
    const mine = ++seq;
    status.innerHTML = '<span class="badge">checking…</span>';
    try {
      const resp = await fetch(box.dataset.checkUrl, {
        method: "POST", credentials: "same-origin", body: ta.value,
        headers: { "Content-Type": "text/plain; charset=utf-8", "X-CSRF-Token": box.dataset.csrf,
                   "Accept": "application/json" },
      });
      if (mine !== seq) return;
      if (!resp.ok) {
        const why = resp.status === 413 ? `too large to check (over ${maxBody} bytes)`
          : `could not check (${resp.status})`;
        status.innerHTML = `<span class="badge bad">${esc(why)}</span>`;
        if (publish) publish.disabled = true;
        return;
      }
      problems = (await resp.json()).problems;
      renderList();
      paint();
      box.dataset.checked = String(mine);  // the text as of check number `mine` is shown
    } catch (err) {
      if (mine === seq) status.innerHTML = '<span class="badge warn">offline: not checked</span>';
    }
  }

  function goTo(line, col) {
    const lines = ta.value.split("\n");
    let pos = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
    ta.focus();
    ta.setSelectionRange(pos + Math.max(0, col - 1), pos + (lines[line - 1] || "").length);
    const lh = parseFloat(getComputedStyle(ta).lineHeight) || 20;
    ta.scrollTop = Math.max(0, (line - 5) * lh);
    sync();
  }

  ta.addEventListener("input", () => {
    problems = [];
    paint();
    clearTimeout(timer);
    timer = setTimeout(check, 400);
  });
  ta.addEventListener("scroll", sync);
  ta.addEventListener("keydown", (e) => {
    if (e.key === "Tab" && !e.shiftKey) {   // two spaces, as YAML wants
      e.preventDefault();
      ta.setRangeText("  ", ta.selectionStart, ta.selectionEnd, "end");
      ta.dispatchEvent(new Event("input"));
    }
  });
  list.addEventListener("click", (e) => {
    const b = e.target.closest(".loc");
    if (b) goTo(+b.dataset.line, +b.dataset.col);
  });
  renderList();
  paint();
}

// --- confirmations, keypad, auto refresh, auto submit --------------------------------
function initForms() {
  document.querySelectorAll("form[data-confirm]").forEach((f) =>
    f.addEventListener("submit", (e) => { if (!confirm(f.dataset.confirm)) e.preventDefault(); }));
  document.querySelectorAll("select[data-autosubmit]").forEach((s) =>
    s.addEventListener("change", () => s.form.submit()));
  const pad = document.querySelector("form.keypad-form");
  if (pad) {
    const keys = pad.querySelector("input.keys");
    const want = +pad.dataset.numDigits || 1;
    const finish = pad.dataset.finish;
    pad.querySelectorAll("button.key").forEach((b) => b.addEventListener("click", (e) => {
      if (want <= 1 && !keys.value) return;          // one key answers: send it now
      e.preventDefault();
      keys.value += b.value;
      if ((finish && b.value === finish) || keys.value.replace(finish || "", "").length >= want) {
        pad.submit();
      }
    }));
  }
  const graph = document.querySelector(".graph");
  if (graph) graph.addEventListener("click", () => graph.classList.toggle("fit"));
  const end = document.getElementById("end");
  if (end && end.parentElement) end.parentElement.scrollTop = end.parentElement.scrollHeight;
  const say = document.getElementById("say");
  if (say) say.focus();
}

function initRefresh() {
  const box = document.querySelector("[data-refresh]");
  if (!box) return;
  setInterval(async () => {
    if (document.hidden) return;
    const resp = await fetch(location.href, { credentials: "same-origin" });
    if (!resp.ok) return;
    const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
    const fresh = doc.querySelector("[data-refresh]");
    const count = doc.getElementById("active-count");
    if (fresh) box.innerHTML = fresh.innerHTML;
    if (count) document.getElementById("active-count").textContent = count.textContent;
  }, (+box.dataset.refresh || 5) * 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  initTabs();
  initEditor();
  initForms();
  initRefresh();
  document.body.dataset.ready = "1";  // every handler is attached (browser tests wait for it)
});

// A draft opens at its change (the inbox's "Draft this edit"): once every deferred script,
// the editor's too, has run, ask whoever edits to go to that line.
window.addEventListener("load", () => {
  const at = document.querySelector(".editor[data-goto-line]");
  if (at) document.dispatchEvent(new CustomEvent("ivr:goto-line",
    {detail: {line: +at.dataset.gotoLine}}));
});
