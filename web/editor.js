// The ops console's flow editor: CodeMirror 6 over the page's <textarea name="yaml">.
// Built by esbuild into ivr/ops/static/ops/editor.js (cd web && npm ci && npm run build).
// The textarea stays in the form, hidden and kept in sync, so publishing, "Try this
// draft" and the refusal pages work as before; without JavaScript it is the editor.
import {EditorView} from "codemirror";
import {keymap} from "@codemirror/view";
import {indentWithTab} from "@codemirror/commands";
import {setup} from "./setup.js";
import {yaml} from "@codemirror/lang-yaml";
import {lintGutter, setDiagnostics} from "@codemirror/lint";
import {autocompletion} from "@codemirror/autocomplete";
import {flowCompletions} from "./complete.js";
import {toDiagnostics} from "./problems.js";
import {Checker} from "./check.js";

function mount(box) {
  const ta = box.querySelector("textarea");
  if (!ta) return;
  let schema = null;
  let checker = null;
  const view = new EditorView({
    doc: ta.value,
    extensions: [
      setup,
      keymap.of([indentWithTab]),
      yaml(),
      lintGutter(),
      autocompletion({override: [flowCompletions(() => schema)], icons: false}),
      EditorView.contentAttributes.of({"aria-label": "flow YAML", spellcheck: "false",
                                       autocapitalize: "off", autocorrect: "off"}),
      EditorView.updateListener.of((u) => {
        if (!u.docChanged) return;
        ta.value = u.state.doc.toString();   // the form posts what the editor shows
        if (checker) checker.changed();
      }),
    ],
  });
  box.classList.add("cm");
  box.dataset.cm = "1";            // ops.js leaves the textarea editor alone
  ta.hidden = true;
  ta.parentElement.prepend(view.dom);
  const initial = readProblems();
  view.dispatch(setDiagnostics(view.state, toDiagnostics(view.state.doc, initial)));
  if (box.dataset.checkUrl) checker = new Checker(box, view, initial);
  if (box.dataset.schemaUrl) loadSchema(box.dataset.schemaUrl).then((s) => { schema = s; });
  listen(view);
  window.ivrEditor = view;         // for the browser tests and the console's own scripts
}

function readProblems() {
  const data = document.getElementById("problems-data");
  try { return data ? JSON.parse(data.textContent || "[]") : []; } catch { return []; }
}

async function loadSchema(url) {
  try {
    const resp = await fetch(url, {credentials: "same-origin",
                                   headers: {Accept: "application/json"}});
    return resp.ok ? await resp.json() : null;
  } catch { return null; }
}

// Put the cursor on `line` (1-based, clamped), column `col`, and scroll it into view.
export function goTo(view, line, col = 1, select = false) {
  const doc = view.state.doc;
  const l = doc.line(Math.min(Math.max(1, line | 0), doc.lines));
  const at = l.from + Math.min(Math.max(0, (col | 0) - 1), l.length);
  view.dispatch({selection: select ? {anchor: at, head: l.to} : {anchor: at},
                 effects: EditorView.scrollIntoView(at, {y: "center"})});
  view.focus();
}

function listen(view) {
  // The graph dispatches this when a node is clicked: show the Editor tab, then the line.
  document.addEventListener("ivr:goto-line", (e) => {
    const line = +(e.detail && e.detail.line) || 1;
    const tab = document.querySelector("nav.tabs a[data-tab=editor]");
    if (tab && !tab.classList.contains("on")) tab.click();
    requestAnimationFrame(() => goTo(view, line));
  });
  const list = document.getElementById("problems");
  if (list) list.addEventListener("click", (e) => {
    const b = e.target.closest(".loc");
    if (b) goTo(view, +b.dataset.line, +b.dataset.col, true);
  });
}

function start() {
  // the flow page's .editor (checked as you type) and New flow's [data-yaml-editor]
  document.querySelectorAll(".editor, [data-yaml-editor]").forEach(mount);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
