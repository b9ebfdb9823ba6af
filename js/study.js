// The study widget's view (made by `widget.js`): the table of a study's examples above the attention view of the
// chosen one.
//
// Choosing a row sets `chosen`; the kernel answers with `shown = null` (the data is being replaced: the view is
// dropped), the new example's data, then `shown = id` (a new attention view is built on it). So a view never
// draws one example's maps over another's tokens, whatever order a host delivers the data's traits in.

import { element } from "./dom.js";
import { ExampleTable } from "./examples.js";
import { AttentionView } from "./view.js";

/**
 * The study widget's traits beyond the attention view's: the table's rows, what their value is, the example asked
 * for, the example on view (null while its data is replaced) and why the last choice did not open ("" if it did).
 * @typedef {Object} StudyTraits
 * @property {import("./examples.js").ExampleRow[]} examples
 * @property {string} column
 * @property {string | null} chosen
 * @property {string | null} shown
 * @property {string} message
 */
/** @typedef {import("./state.js").Model<import("./state.js").Traits & StudyTraits>} Model */

export class StudyView {
  /**
   * @param {Model} model
   * @param {HTMLElement} el
   */
  constructor(model, el) {
    this.model = model;
    /** @type {AttentionView | null} */
    this.view = null;
    /** @type {string | null} */
    this.viewOf = null;
    this.root = element("div", "qvl-study");
    this.table = new ExampleTable(model.get("column"), (id) => this.choose(id));
    this.status = element("div", "qvl-study-status", { "aria-live": "polite" });
    this.holder = element("div", "qvl-study-view");
    this.root.append(this.table.root, this.status, this.holder);
    el.append(this.root);
    /** @type {[string, () => void][]} */
    this.listeners = [
      ["change:examples", () => this.table.setRows(model.get("examples"))],
      ["change:shown", () => this.sync()],
      ["change:message", () => this.say()],
    ];
    for (const [event, callback] of this.listeners) model.on(event, callback);
    this.table.setRows(model.get("examples"));
    this.sync();
  }

  /** @param {string} id */
  choose(id) {
    if (id === this.model.get("shown")) return;
    this.status.textContent = `Opening example ${id}\u2026`;
    this.model.set("chosen", id);
    this.model.save_changes();
  }

  /** The attention view follows `shown`: dropped while it is null, built anew for each example. */
  sync() {
    const shown = this.model.get("shown");
    if (this.view && this.viewOf !== shown) {
      this.view.destroy();
      this.view = null;
    }
    if (!this.view && shown !== null) {
      this.view = new AttentionView(this.model, this.holder);
      this.viewOf = shown;
    }
    this.table.mark(shown);
    this.say();
  }

  say() {
    const shown = this.model.get("shown");
    const message = this.model.get("message");
    this.status.textContent = message || (shown === null ? "Opening\u2026" : this.describe(shown));
    this.status.classList.toggle("qvl-study-error", Boolean(message));
  }

  /**
   * What the status line says of the example on view: its id, value and rank.
   * @param {string} id
   */
  describe(id) {
    const rows = this.model.get("examples");
    const rank = rows.findIndex((row) => row.id === id);
    const value = rows[rank]?.value;
    if (rank < 0 || value === null || value === undefined) return `Example ${id}`;
    return `Example ${id}: ${value.toFixed(3)}, rank ${rank + 1} of ${rows.length}`;
  }

  destroy() {
    for (const [event, callback] of this.listeners) this.model.off(event, callback);
    this.view?.destroy();
    this.root.remove();
  }
}
