// The call's story page: polls its JSON every 2 s and redraws what changed (no reload).
// Text goes in with textContent only: callers' words are never parsed as HTML.
"use strict";

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(r)}` : `${m}:${pad(r)}`;
}

function drawSteps(list, steps) {
  list.replaceChildren(...steps.map((s) => {
    const li = el("li");
    li.append(el("span", "time", s.time), " ", el("strong", "", s.title));
    if (s.prompt) li.append(" ", el("span", "prompt", `“${s.prompt}”`));
    const did = el("div", "did");
    if (s.pressed) { did.append("pressed "); did.append(el("kbd", "", s.pressed)); }
    if (s.said) did.append(` said “${s.said}”`);
    if (s.event === "no_input") did.append(el("span", "muted", "said nothing"));
    if (s.to && s.to !== s.state) did.append(` → ${s.to_title}`);
    li.append(did);
    return li;
  }));
}

function drawSlots(list, slots) {
  if (!slots.length) { list.replaceChildren(el("li", "muted", "Nothing.")); return; }
  list.replaceChildren(...slots.map((s) => {
    const li = el("li");
    li.append(el("span", "muted", s.name), " ", el("code", "", s.value));
    return li;
  }));
}

function draw(box, data) {
  const status = document.getElementById("status");
  status.textContent = data.status;
  status.className = "badge " + (data.status === "connected" ? "ok" : data.status === "ended" ? "bad" : "warn");
  box.dataset.status = data.status;
  document.getElementById("where").textContent = data.where;
  const waited = document.getElementById("waited");
  waited.dataset.seconds = data.waited;
  waited.dataset.at = Date.now();
  waited.textContent = data.waited_text;
  const words = document.getElementById("own-words");
  words.replaceChildren(data.own_words ? `“${data.own_words}”`
    : el("span", "muted", "They said nothing in their own words."));
  const menu = document.getElementById("menu-said");
  menu.hidden = !data.menu_said;
  menu.querySelector("span").textContent = data.menu_said;
  document.getElementById("ended-note").hidden = !data.ended;
  drawSteps(document.getElementById("steps"), data.steps);
  drawSlots(document.getElementById("slots"), data.slots);
  box.dataset.updates = String(+box.dataset.updates + 1);
}

function tick() {  // the waited clock runs between polls while someone waits
  const box = document.getElementById("story"), waited = document.getElementById("waited");
  if (!box || box.dataset.status === "ended" || !+waited.dataset.seconds) return;
  const since = +waited.dataset.at || Date.now();
  waited.dataset.at = waited.dataset.at || since;
  waited.textContent = clock(+waited.dataset.seconds + (Date.now() - since) / 1000);
}

async function poll(box) {
  if (document.hidden) return;
  try {
    const resp = await fetch(box.dataset.poll, { credentials: "same-origin",
                                                 headers: { Accept: "application/json" } });
    if (resp.ok) draw(box, await resp.json());
  } catch (e) { /* the next poll tries again */ }
}

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("story");
  if (!box) return;
  setInterval(() => poll(box), 2000);
  setInterval(tick, 1000);
});
