// A video's film strip, under its picture: one cell per temporal group (its frame's thumbnail, its time, and a bar
// of the shown tokens' share of attention on that group), the group on screen marked, a scrubber and a play
// button. The strip only says which group to show (`actions.show`); the view sets the state's `group`, and the
// panels then swap the picture and repaint the overlay with that group's columns.

import { colourIndex, cssColour } from "./colormap.js";
import { element } from "./dom.js";
import { groupLabel, timeSpan } from "./labels.js";

export const PLAY_INTERVAL_MS = 500; // two groups a second

/**
 * What the strip asks of the view.
 * @typedef {Object} FilmStripActions
 * @property {(group: number) => void} show  show this temporal group
 *
 * What one paint of the bars shows: each group's value, and its words for the cell's tooltip.
 * @typedef {Object} StripPaint
 * @property {Float32Array} values  per group, the shown tokens' attention on it (`blockSums`)
 * @property {string} colormap
 * @property {(value: number) => string} format  a value's words
 * @property {string} what  what the value is, e.g. "of the attention on this group"
 */

export class FilmStrip {
  /**
   * @param {import("./state.js").Medium} medium  a video
   * @param {number} index  the medium's index, for labels
   * @param {string[]} urls  each group's picture, as an object URL (the panels own and release them)
   * @param {number} shown  the group on screen
   * @param {FilmStripActions} actions
   */
  constructor(medium, index, urls, shown, actions) {
    this.medium = medium;
    this.actions = actions;
    this.shown = shown;
    /** @type {ReturnType<typeof setInterval> | null} */
    this.timer = null;
    const count = medium.frames.length;
    this.element = element("div", "qvl-filmstrip", { role: "group", "aria-label": `Video ${index + 1}: temporal groups` });
    this.play = element("button", "qvl-play", { type: "button", "aria-pressed": "false" });
    this.play.textContent = "▶ Play";
    this.play.addEventListener("click", () => (this.timer === null ? this.start() : this.pause()));
    this.scrubber = element("input", "qvl-scrubber", {
      type: "range",
      min: "0",
      max: String(count - 1),
      step: "1",
      "aria-label": `Video ${index + 1}: temporal group`,
    });
    this.scrubber.addEventListener("input", () => actions.show(Number(this.scrubber.value)));
    this.label = element("span", "qvl-film-label");
    const controls = element("div", "qvl-film-controls");
    controls.append(this.play, this.scrubber, this.label);
    this.strip = element("div", "qvl-film-cells");
    /** @type {HTMLButtonElement[]} */
    this.cells = [];
    /** @type {HTMLElement[]} */
    this.bars = [];
    for (let group = 0; group < count; group++) {
      const cell = element("button", "qvl-film-cell", {
        type: "button",
        "data-qvl-group": String(group),
        "aria-label": groupLabel(group, medium),
      });
      const thumb = element("img", "qvl-film-thumb", { alt: "", draggable: "false" });
      thumb.src = urls[group];
      thumb.style.aspectRatio = `${medium.width} / ${medium.height}`;
      const track = element("div", "qvl-film-track");
      const bar = element("div", "qvl-film-bar");
      track.append(bar);
      const time = element("span", "qvl-film-time");
      time.textContent = timeSpan(medium.times[group]) || String(group + 1);
      cell.append(thumb, track, time);
      cell.addEventListener("click", () => actions.show(group));
      this.strip.append(cell);
      this.cells.push(cell);
      this.bars.push(bar);
    }
    this.element.append(controls, this.strip);
    this.mark(shown);
  }

  /**
   * Mark the group on screen: its cell, the scrubber and the label.
   * @param {number} group
   */
  mark(group) {
    this.shown = group;
    this.cells.forEach((cell, index) => {
      cell.classList.toggle("qvl-current", index === group);
      if (index === group) cell.setAttribute("aria-current", "true");
      else cell.removeAttribute("aria-current");
    });
    this.scrubber.value = String(group);
    this.label.textContent = groupLabel(group, this.medium);
    this.element.dataset.qvlShown = String(group); // for tests and benchmarks
  }

  /**
   * Each group's bar: as long as its value is against the largest, in the colour map's colour for it.
   * @param {StripPaint} paint
   */
  paint({ values, colormap, format, what }) {
    let max = 0;
    for (const value of values) if (value > max) max = value;
    this.bars.forEach((bar, group) => {
      const value = values[group] ?? 0;
      bar.style.width = `${max > 0 ? (100 * value) / max : 0}%`;
      bar.style.backgroundColor = cssColour(colormap, value, max);
      const cell = this.cells[group];
      cell.dataset.qvlMass = String(value); // the number itself, for tests
      cell.dataset.qvlLevel = String(colourIndex(value, max));
      cell.title = `${groupLabel(group, this.medium)}: ${format(value)} ${what}`;
    });
  }

  /** Play: show the next group every PLAY_INTERVAL_MS, from the first again when at the last; stop at the last. */
  start() {
    if (this.timer !== null) return;
    const last = this.medium.frames.length - 1;
    if (this.shown >= last) this.actions.show(0);
    this.timer = setInterval(() => {
      if (this.shown < last) this.actions.show(this.shown + 1);
      if (this.shown >= last) this.pause();
    }, PLAY_INTERVAL_MS);
    this.play.textContent = "⏸ Pause";
    this.play.setAttribute("aria-pressed", "true");
  }

  pause() {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.play.textContent = "▶ Play";
    this.play.setAttribute("aria-pressed", "false");
  }

  destroy() {
    this.pause();
  }
}
