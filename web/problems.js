// The server's problems (ivr.ops.flows.problem_rows: line, col, end_col, code, message,
// hint, severity) as @codemirror/lint diagnostics, and as the list under the editor.

// "did you mean 'check_hours'" in a hint becomes a one-click fix on the marker.
const MEANT = /did you mean '([^']+)'/;

export function toDiagnostics(doc, problems) {
  const out = [];
  for (const p of problems) {
    const l = doc.line(Math.min(Math.max(1, p.line || 1), doc.lines));
    const from = l.from + Math.min(Math.max(0, (p.col || 1) - 1), l.length);
    let to = p.end_col ? l.from + Math.min(p.end_col - 1, l.length) : l.to;
    if (to <= from) to = l.to;
    const d = {from, to, severity: p.severity === "error" ? "error" : "warning",
               source: p.code, message: p.message + (p.hint ? `\n${p.hint}` : "")};
    const meant = MEANT.exec(p.hint || "") || MEANT.exec(p.message || "");
    if (meant && p.end_col && to > from) {   // only where the range is exactly the value
      d.actions = [{name: `use '${meant[1]}'`,
                    apply: (view, a, b) => view.dispatch({changes: {from: a, to: b,
                                                                    insert: meant[1]}})}];
    }
    out.push(d);
  }
  return out;
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// The list under the editor, built as DOM nodes (never innerHTML: the text is the user's).
export function renderList(list, problems) {
  if (!list) return;
  list.replaceChildren(...problems.map((p) => {
    const li = el("li", {class: p.severity, "data-line": p.line});
    li.append(el("button", {type: "button", class: "loc", "data-line": p.line,
                            "data-col": p.col}, `line ${p.line}:${p.col}`), " ",
              el("span", {class: "sev"}, `${p.severity}[${p.code}]`), " ",
              el("span", {class: "msg"}, p.message), el("pre", {class: "cli"}, p.text || ""));
    return li;
  }));
}

export function badge(status, cls, text, id) {
  if (!status) return;
  const b = el("span", {class: `badge ${cls}`}, text);
  if (id) b.id = id;
  status.replaceChildren(b);
}

export function summarize(status, problems) {
  const errors = problems.filter((p) => p.severity === "error").length;
  const warnings = problems.length - errors;
  if (errors) badge(status, "bad", `${errors} error${errors === 1 ? "" : "s"}`);
  else if (warnings) badge(status, "warn", `${warnings} warning${warnings === 1 ? "" : "s"}`);
  else badge(status, "ok", "no problems");
  return errors;
}
