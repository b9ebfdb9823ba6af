// The token strips: one labelled strip per token group (the prompt; the model's thinking; its answer), a chip per
// token, and the pointer and keyboard: hover or focus a chip to show its map, click to pin, shift/ctrl-click to pin
// several, arrow keys / Home / End move across all strips, Enter or Space pins, Escape unpins.

import { cssColour } from "./colormap.js";
import { element } from "./dom.js";
import { chipText, percent } from "./labels.js";

/**
 * What the strips ask of the view.
 * @typedef {Object} StripActions
 * @property {(index: number | null) => void} hover  a token is hovered or focused (null: none is)
 * @property {(index: number, add: boolean) => void} pin  pin a token (`add`: to the pinned ones, or toggle it)
 * @property {() => void} unpinAll
 */

export class TokenStrips {
  /**
   * @param {import("./state.js").TokenGroup[]} groups
   * @param {import("./state.js").TokenInfo[]} tokens
   * @param {StripActions} actions
   */
  constructor(groups, tokens, actions) {
    this.tokens = tokens;
    this.actions = actions;
    this.element = element("div", "qvl-strips");
    /** @type {HTMLElement[]} */
    this.chips = tokens.map((token, index) => {
      const chip = element("span", token.special ? "qvl-token qvl-special-token" : "qvl-token", {
        "data-qvl-token": String(index),
        role: "option",
        tabindex: "-1",
      });
      chip.textContent = chipText(token.text);
      return chip;
    });
    const labelled = groups.length > 1;
    for (const [groupIndex, group] of groups.entries()) {
      const strip = element("div", "qvl-tokens", {
        role: "listbox",
        "aria-multiselectable": "true",
        "aria-label": `${group.label} tokens: hover or focus one to see where it looks; click to pin, shift-click to add`,
        "data-qvl-group": group.name,
      });
      strip.append(...this.chips.filter((_, index) => tokens[index].group === groupIndex));
      if (!labelled) {
        this.element.append(strip);
        continue;
      }
      const wrapper = element("div", "qvl-strip");
      const label = element("div", "qvl-strip-label");
      label.textContent = group.label;
      if (group.note) {
        const note = element("span", "qvl-strip-note");
        note.textContent = ` · ${group.note}`;
        label.append(note);
      }
      wrapper.append(label, strip);
      this.element.append(wrapper);
    }
    this.listen();
  }

  listen() {
    // Over a chip only: the gaps between chips (and strips) keep the last one (no flash of the all-tokens map).
    this.element.addEventListener("pointerover", (event) => {
      const index = tokenIndex(event.target);
      if (index !== null) this.actions.hover(index);
    });
    this.element.addEventListener("pointerleave", () => this.actions.hover(null));
    this.element.addEventListener("focusin", (event) => this.actions.hover(tokenIndex(event.target)));
    this.element.addEventListener("focusout", () => this.actions.hover(null));
    this.element.addEventListener("click", (event) => {
      const index = tokenIndex(event.target);
      if (index !== null) this.actions.pin(index, event.shiftKey || event.ctrlKey || event.metaKey);
    });
    this.element.addEventListener("keydown", (event) => this.onKey(event));
  }

  /**
   * Show the pins; hide template tokens unless `showSpecial` (a pinned one stays: what the map shows is on screen).
   * @param {number[]} selected
   * @param {boolean} showSpecial
   */
  sync(selected, showSpecial) {
    const pinned = new Set(selected);
    // A prompt with no text of its own (only template tokens) shows them: the strips are never empty.
    const show = showSpecial || !this.hasOwnText();
    this.chips.forEach((chip, index) => {
      chip.hidden = this.tokens[index].special && !show && !pinned.has(index);
      chip.classList.toggle("qvl-pinned", pinned.has(index));
      chip.setAttribute("aria-selected", String(pinned.has(index)));
    });
    this.keepTabStop();
  }

  hasOwnText() {
    return this.tokens.some((token) => !token.special);
  }

  visibleChips() {
    return this.chips.filter((chip) => !chip.hidden);
  }

  /** @param {number} index */
  isVisible(index) {
    return !this.chips[index].hidden;
  }

  /** Roving tabindex: one visible chip is in the tab order, the one that was, else the first visible one. */
  keepTabStop() {
    const visible = this.visibleChips();
    const stop = visible.find((chip) => chip.tabIndex === 0) ?? visible[0];
    for (const chip of this.chips) chip.tabIndex = chip === stop ? 0 : -1;
  }

  /**
   * Tint every chip by its weight (its image share, or its attention to a hovered cell), on the visible chips'
   * scale; the title says what the weight is.
   * @param {ArrayLike<number>} weights
   * @param {string} colormap
   * @param {(token: number) => string} what  what a token's weight is, e.g. "attention on the image"
   * @param {(weight: number) => string} [format]  a weight's words (default: a percentage)
   */
  tint(weights, colormap, what, format = percent) {
    let max = 0;
    this.chips.forEach((chip, index) => {
      if (!chip.hidden && weights[index] > max) max = weights[index];
    });
    this.chips.forEach((chip, index) => {
      const share = max > 0 ? weights[index] / max : 0;
      chip.style.backgroundColor = cssColour(colormap, weights[index], max, 0.15 + 0.7 * share);
      chip.style.color = share > 0.55 && colormap !== "gray" ? "#111" : "";
      chip.title = `${format(weights[index])} ${what(index)}`;
    });
  }

  /** @param {KeyboardEvent} event */
  onKey(event) {
    const chips = this.visibleChips();
    const current = tokenIndex(event.target);
    const position = chips.findIndex((chip) => Number(chip.dataset.qvlToken) === current);
    /** @type {Record<string, number>} */
    const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
    let target = null;
    if (event.key in moves) target = chips[Math.min(chips.length - 1, Math.max(0, position + moves[event.key]))];
    else if (event.key === "Home") target = chips[0];
    else if (event.key === "End") target = chips[chips.length - 1];
    else if ((event.key === "Enter" || event.key === " ") && current !== null) {
      this.actions.pin(current, event.shiftKey || event.ctrlKey || event.metaKey);
    } else if (event.key === "Escape") this.actions.unpinAll();
    else return;
    event.preventDefault();
    if (target) {
      for (const chip of chips) chip.tabIndex = -1;
      target.tabIndex = 0;
      target.focus();
    }
  }
}

/**
 * The token index of the chip an event happened on, or null.
 * @param {EventTarget | null} target
 * @returns {number | null}
 */
function tokenIndex(target) {
  const chip = target instanceof Element ? target.closest("[data-qvl-token]") : null;
  return chip ? Number(chip.getAttribute("data-qvl-token")) : null;
}

/**
 * Pins after a click on token `index`: with `add`, toggle it among the pinned ones; without, pin it alone, or
 * unpin it if it was pinned alone.
 * @param {number[]} selected
 * @param {number} index
 * @param {boolean} add
 * @returns {number[]}
 */
export function pinned(selected, index, add) {
  if (add) return selected.includes(index) ? selected.filter((i) => i !== index) : [...selected, index];
  return selected.length === 1 && selected[0] === index ? [] : [index];
}
