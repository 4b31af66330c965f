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

  document.querySelectorAll("[data-back]").forEach((b) => {
    b.addEventListener("click", () => {
      if (history.length > 1) history.back();
      else location.href = b.dataset.back || "/ops/flows";
    });
  });

  const max = +(document.body.dataset.maxBody || 0);
  if (!max) return;
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
      if (bytes <= max) {
        const old = form.querySelector(".refused-size");
        if (old) old.remove();
        return;
      }
      e.preventDefault();
      refuse(form, bytes);
    });
  });
})();
