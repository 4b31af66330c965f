// Where the cursor is in a flow file, read from the lines (block YAML, as flows are written)
// and from the current line's flow mapping (`hours: {open: main_menu, clo|`). Pure: text in,
// facts out, so the completion source stays small.

const KEY_LINE = /^(\s*)(?:- )?([A-Za-z_][\w-]*)\s*:(?:\s|$)/;

function indentOf(text) {
  return text.length - text.trimStart().length;
}

function meaningful(text) {
  const t = text.trim();
  return t !== "" && !t.startsWith("#");
}

// The keys of the blocks that hold a line indented by `indent`, found by walking up:
// each nearer line with a smaller indent that is `key:` opens the enclosing block.
export function parents(doc, lineNo, indent) {
  const path = [];
  let want = indent;
  for (let n = lineNo - 1; n >= 1 && want > 0; n--) {
    const text = doc.line(n).text;
    if (!meaningful(text)) continue;
    const ind = indentOf(text);
    if (ind >= want) continue;
    const m = KEY_LINE.exec(text);
    if (!m) continue;       // a continuation of a long string: not a block opener
    path.unshift(m[2]);
    want = ind;
  }
  return path;
}

// The keys already written in the block the line belongs to (same indent, same parent).
export function siblings(doc, lineNo, indent) {
  const keys = new Set();
  const scan = (step) => {
    for (let n = lineNo + step; n >= 1 && n <= doc.lines; n += step) {
      const text = doc.line(n).text;
      if (!meaningful(text)) continue;
      const ind = indentOf(text);
      if (ind < indent) break;
      const m = ind === indent && KEY_LINE.exec(text);
      if (m) keys.add(m[2]);
    }
  };
  scan(-1);
  scan(1);
  return keys;
}

// The state names of the document: the keys one level under the top-level `states:`.
export function stateNames(doc) {
  const names = [];
  let inStates = false;
  let level = -1;
  for (let n = 1; n <= doc.lines; n++) {
    const text = doc.line(n).text;
    if (!meaningful(text)) continue;
    const ind = indentOf(text);
    if (ind === 0) {
      inStates = /^states\s*:\s*(#.*)?$/.test(text);
      level = -1;
      continue;
    }
    if (!inStates) continue;
    if (level < 0) level = ind;
    const m = ind === level && KEY_LINE.exec(text);
    if (m) names.push(m[2]);
  }
  return names;
}

// What is being typed at `pos`:
//   {kind: "key", path, word, from, indent, present}   a key of the mapping at `path`
//   {kind: "value", path, key, word, from}             the value of `key` in that mapping
// or null (inside a string, a comment, a list...).
export function contextAt(doc, pos) {
  const line = doc.lineAt(pos);
  const before = line.text.slice(0, pos - line.from);
  if (before.includes("#") || /["']/.test(before.replace(/^[^:]*:\s*/, ""))) return null;
  const indent = indentOf(line.text);
  const flow = /^(\s*)(?:- )?([A-Za-z_][\w-]*)\s*:\s*\{([^{}]*)$/.exec(before);
  if (flow) return inFlowMapping(doc, line, pos, flow);
  const value = /^(\s*)(?:- )?([A-Za-z_][\w-]*)\s*:\s+([\w.+-]*)$/.exec(before);
  if (value) {
    const path = parents(doc, line.number, indent);
    return {kind: "value", path, key: value[2], word: value[3], from: pos - value[3].length};
  }
  const key = /^(\s*)(?:- )?([A-Za-z_][\w-]*)?$/.exec(before);
  if (key) {
    const ind = key[1].length;
    const word = key[2] || "";
    return {kind: "key", path: parents(doc, line.number, ind), word, from: pos - word.length,
            indent: ind, present: siblings(doc, line.number, ind)};
  }
  return null;
}

function inFlowMapping(doc, line, pos, m) {
  const path = [...parents(doc, line.number, m[1].length), m[2]];
  const inside = m[3];
  const last = inside.slice(inside.lastIndexOf(",") + 1);
  const present = new Set(inside.split(",").map((p) => p.split(":")[0].trim()).filter(Boolean));
  const pair = /^\s*([A-Za-z_][\w-]*)\s*:\s*([\w.+-]*)$/.exec(last);
  if (pair) return {kind: "value", path, key: pair[1], word: pair[2], from: pos - pair[2].length};
  const word = /^\s*([A-Za-z_][\w-]*)?$/.exec(last);
  if (!word) return null;
  const w = word[1] || "";
  present.delete(w);
  return {kind: "key", path, word: w, from: pos - w.length, indent: -1, present, flow: true};
}
