// The study widget's table of examples: one row per example with its value (or its error), best first as the kernel
// sends them; the value's header reverses the order. A row is chosen by a click, or Enter / Space once focused
// (arrow keys move between rows). Text goes in through textContent only: ids and errors come from the data set.

import { element } from "./dom.js";

/**
 * One example of the study: its id, its value (null: no value, e.g. no box), and its error where it failed.
 * @typedef {{id: string, value: number | null, error: string | null}} ExampleRow
 */

export class ExampleTable {
  /**
   * @param {string} column  what the value is
   * @param {(id: string) => void} choose
   */
  constructor(column, choose) {
    this.choose = choose;
    /** @type {ExampleRow[]} */
    this.rows = [];
    this.reversed = false;
    /** @type {string | null} */
    this.marked = null;
    this.root = element("div", "qvl-examples");
    const table = element("table", "qvl-examples-table");
    const head = element("tr", "");
    const order = element("button", "qvl-examples-order", {
      type: "button",
      title: "Reverse the order (the kernel sends the best first)",
    });
    order.addEventListener("click", () => {
      this.reversed = !this.reversed;
      this.render();
    });
    this.order = order;
    for (const [text, className] of [["#", "qvl-examples-rank"], ["example", "qvl-examples-id"]]) {
      const cell = element("th", className, { scope: "col" });
      cell.textContent = text;
      head.append(cell);
    }
    const valueHead = element("th", "qvl-examples-value", { scope: "col" });
    valueHead.append(order);
    head.append(valueHead);
    this.column = column;
    const thead = element("thead", "");
    thead.append(head);
    this.body = element("tbody", "");
    table.append(thead, this.body);
    this.root.append(table);
  }

  /** @param {ExampleRow[]} rows */
  setRows(rows) {
    this.rows = rows;
    this.render();
  }

  /** @param {string | null} id  the example on view, marked in the table */
  mark(id) {
    this.marked = id;
    for (const row of this.body.children) {
      const chosen = row instanceof HTMLElement && row.dataset.qvlExample === id;
      row.classList.toggle("qvl-examples-chosen", chosen);
      row.setAttribute("aria-selected", String(chosen));
    }
  }

  render() {
    this.order.textContent = `${this.column} ${this.reversed ? "\u25B2" : "\u25BC"}`;
    const ranked = this.rows.map((row, index) => ({ row, rank: index + 1 }));
    if (this.reversed) ranked.reverse();
    this.body.replaceChildren(...ranked.map(({ row, rank }) => this.line(row, rank)));
    this.mark(this.marked);
  }

  /**
   * @param {ExampleRow} row
   * @param {number} rank
   */
  line(row, rank) {
    const line = element("tr", "qvl-examples-row", { tabindex: "0", role: "button" });
    line.dataset.qvlExample = row.id;
    const value = row.error !== null ? "failed" : row.value === null ? "no value" : row.value.toFixed(3);
    for (const [text, className] of [
      [String(rank), "qvl-examples-rank"],
      [row.id, "qvl-examples-id"],
      [value, "qvl-examples-value"],
    ]) {
      const cell = element("td", className);
      cell.textContent = text;
      line.append(cell);
    }
    if (row.error !== null) {
      line.classList.add("qvl-examples-failed");
      line.title = row.error;
    }
    line.addEventListener("click", () => this.choose(row.id));
    line.addEventListener("keydown", (event) => this.key(event, line, row.id));
    return line;
  }

  /**
   * @param {KeyboardEvent} event
   * @param {HTMLElement} line
   * @param {string} id
   */
  key(event, line, id) {
    if (event.key === "Enter" || event.key === " ") this.choose(id);
    else if (event.key === "ArrowDown") /** @type {HTMLElement | null} */ (line.nextElementSibling)?.focus();
    else if (event.key === "ArrowUp") /** @type {HTMLElement | null} */ (line.previousElementSibling)?.focus();
    else return;
    event.preventDefault();
  }
}
