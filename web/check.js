// Checks as you type: 400 ms after the last edit the text goes to the server's check
// endpoint; its problems become markers at their lines, the list and the badge. The
// cursor and scroll position are left alone. `.editor[data-checked]` is the number of the
// check whose result is shown (browser tests wait for it to move on).
import {setDiagnostics} from "@codemirror/lint";
import {badge, renderList, summarize, toDiagnostics} from "./problems.js";

const DELAY = 400;

export class Checker {
  constructor(box, view, problems) {
    this.box = box;
    this.view = view;
    this.seq = 0;
    this.timer = null;
    this.maxBody = +box.dataset.maxBody || 0;
    this.status = document.getElementById("check-status");
    this.list = document.getElementById("problems");
    this.publish = document.getElementById("publish");
    this.tryDraft = document.getElementById("try-draft");
    this.form = box.closest("form");
    this.show(problems);
    if (this.form) this.form.addEventListener("submit", (e) => this.guardSize(e));
  }

  changed() {
    this.seq++;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), DELAY);
  }

  show(problems) {
    renderList(this.list, problems);
    const errors = summarize(this.status, problems);
    if (this.publish) {
      this.publish.disabled = errors > 0;
      this.publish.title = errors ? "Fix the errors first" : "";
    }
    if (this.tryDraft) this.tryDraft.disabled = errors > 0;
  }

  async check() {
    const mine = this.seq;
    const doc = this.view.state.doc;
    badge(this.status, "", "checking…");
    let resp;
    try {
      resp = await fetch(this.box.dataset.checkUrl, {
        method: "POST", credentials: "same-origin", body: doc.toString(),
        headers: {"Content-Type": "text/plain; charset=utf-8",
                  "X-CSRF-Token": this.box.dataset.csrf, Accept: "application/json"},
      });
    } catch {
      if (mine === this.seq) badge(this.status, "warn", "offline: not checked");
      return;
    }
    if (mine !== this.seq || this.view.state.doc !== doc) return;  // edited since: rechecked
    if (!resp.ok) return this.refused(resp.status);
    const problems = (await resp.json()).problems;
    if (mine !== this.seq || this.view.state.doc !== doc) return;
    this.view.dispatch(setDiagnostics(this.view.state, toDiagnostics(doc, problems)));
    this.show(problems);
    this.box.dataset.checked = String(mine);  // the text as of check `mine` is shown
  }

  refused(code) {
    const why = code === 413 ? `too large to check (over ${this.maxBody} bytes)`
      : `could not check (${code})`;
    badge(this.status, "bad", why);
    if (this.publish) this.publish.disabled = true;
  }

  // A body over max_body is refused whole (413): say so here and keep the text, rather
  // than sending it and landing on an error page.
  guardSize(e) {
    if (!this.maxBody) return;
    const body = new URLSearchParams(new FormData(this.form)).toString();
    if (new Blob([body]).size <= this.maxBody) return;
    e.preventDefault();
    badge(this.status, "bad", `too large: over ${this.maxBody} bytes, not sent`, "too-large");
  }
}
