// polish.js: small console-wide behaviours (loaded by base.html on every /ops page).
// - Table cells get their column's heading as data-label (cards at 390 px, polish.css).
// - "Go back" buttons ([data-back]) on error pages: history.back(), so the browser gives
//   the form you came from back with its text (a link would load the page afresh).
// - Any POST form over the server's body limit (body[data-max-body], max_body) is not
//   sent: the reason is shown above the form and the text stays where it is (the server
//   would refuse it whole with 413, and could not read a byte of it).
"use strict";
(function () {
  // Small screens show each table row as a card (polish.css): every cell carries its
  // column's heading as data-label (kept in step when a page re-renders its table).
  function label(root) {
    root.querySelectorAll("table.grid").forEach((t) => {
      const heads = [...t.querySelectorAll("thead th")].map((th) => th.textContent.trim());
      t.querySelectorAll("tbody tr").forEach((tr) => {
        [...tr.children].forEach((td, i) => {
          if (heads[i] && !td.hasAttribute("data-label")) td.setAttribute("data-label", heads[i]);
        });
      });
    });
  }
  label(document);
  new MutationObserver(() => label(document)).observe(document.body, {childList: true, subtree: true});

  // A link to another tab of the same page (#history) changes only the hash: show it.
  window.addEventListener("hashchange", () => {
    const want = location.hash.slice(1);
    const tab = [...document.querySelectorAll("nav.tabs a[data-tab]")].find((a) => a.dataset.tab === want);
    if (tab && !tab.classList.contains("on")) tab.click();
  });

  document.querySelectorAll("[data-back]").forEach((b) => {
    b.addEventListener("click", () => {
      if (history.length > 1) history.back();
      else location.href = b.dataset.back || "/ops/flows";
    });
  });

  // A form's text survives a refusal: what a POST form's edited textareas hold is kept
  // in sessionStorage when the page is left (sent, or not); coming back to the page (the 413 page's "Go back",
  // the browser's back button) puts it back, because the browser does not (the console's
  // pages are no-store). Any other arrival at the page forgets it.
  const key = "ivr-sent:" + location.pathname;
  const nav = (performance.getEntriesByType("navigation")[0] || {}).type;
  try {
    const kept = JSON.parse(sessionStorage.getItem(key) || "null");
    sessionStorage.removeItem(key);
    if (kept && nav === "back_forward") restore(kept);
  } catch (e) { /* storage off or full: the browser's own behaviour */ }
  function restore(kept) {
    let done = false;
    for (const [name, value] of Object.entries(kept)) {
      const ta = document.querySelector(`form textarea[name="${CSS.escape(name)}"]`);
      if (!ta || ta.value === value) continue;
      ta.value = value;
      ta.dispatchEvent(new Event("input", {bubbles: true}));
      done = true;
    }
    if (!done) return;
    const note = document.createElement("div");
    note.className = "flash info restored-text";
    note.setAttribute("role", "status");
    note.textContent = "Your text from before was put back: it was not published.";
    const main = document.querySelector("main");
    if (main) main.prepend(note);
  }
  window.addEventListener("pagehide", () => {
    const texts = {};
    document.querySelectorAll("form textarea[name]").forEach((ta) => {
      if (ta.value !== ta.defaultValue) texts[ta.name] = ta.value;
    });
    if (!Object.keys(texts).length) return;
    try { sessionStorage.setItem(key, JSON.stringify(texts)); } catch (e) { /* too big */ }
  });

  const max = +(document.body.dataset.maxBody || 0);
  function size(form) {
    return new Blob([new URLSearchParams(new FormData(form)).toString()]).size;
  }
  function refuse(form, bytes) {
    let box = form.querySelector(".refused-size");
    if (!box) {
      box = document.createElement("div");
      box.className = "flash error refused-size";
      box.setAttribute("role", "alert");
      form.prepend(box);
    }
    box.textContent = `Not sent: this is ${bytes.toLocaleString("en-US")} bytes, over the ` +
      `server's limit of ${max.toLocaleString("en-US")} bytes (max_body), so it would be ` +
      "refused unread. Your text is kept here: shorten it (or ask for a larger max_body) " +
      "and try again.";
    box.scrollIntoView({block: "nearest"});
  }
  document.querySelectorAll("form").forEach((form) => {
    if ((form.getAttribute("method") || "get").toLowerCase() !== "post") return;
    form.addEventListener("submit", (e) => {
      const bytes = size(form);
      if (!max || bytes <= max) {
        const old = form.querySelector(".refused-size");
        if (old) old.remove();
        return;
      }
      e.preventDefault();
      refuse(form, bytes);
    });
  });
})();
