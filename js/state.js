// The view state, as the kernel (or the HTML page) provides it: the fields of Python's `ViewState`
// (`qvl_widget/_view_state.py`), read and written through anywidget's model interface.

/**
 * One token strip, one per part of the text: the prompt, and the model's thinking and its answer where there are
 * any. `name` is the part ("prompt", "thinking" or "answer"); `note` ("" for none) is said after the label and in
 * the captions of its tokens (e.g. that generation stopped while the model was still thinking).
 * @typedef {{name: string, label: string, note: string}} TokenGroup
 *
 * One query token; `group` indexes `groups`, `special` marks tokens the chat template (or a special token)
 * added, `producer` is the token whose row is the step that produced this one (the position before it; null where
 * that is not a captured row), `probability` the model's probability of one of its own tokens (thinking or
 * answer) at its step.
 * @typedef {{text: string, special: boolean, group: number, producer: number | null,
 *            probability: number | null}} TokenInfo
 *
 * One picture of a medium: an index into `pictures` (and `full_pictures`) and its MIME type.
 * @typedef {{picture: number, mime: string}} Frame
 *
 * An image (kind "image": one frame) or a video ("video": one frame per temporal group, its first frame): its token
 * grid, first column among the maps' columns, original size in pixels, frames, and for a video each group's first
 * and last frame's time in seconds (`times`; an image: []). Frame f's tokens are the `rows * cols` columns from
 * `first_column + f * rows * cols`.
 * @typedef {{kind: string, rows: number, cols: number, first_column: number, width: number, height: number,
 *            frames: Frame[], times: number[][]}} Medium
 *
 * A layer or head choice: an index, "mean" or "max" (of all), or a list of indices (combined by `reduce`).
 * Its key (menus, the HTML page's maps) is `String(choice)`: "3", "mean", "2,5", as Python's `choice_key`.
 * @typedef {number | string | number[]} Choice
 *
 * The layer menu and, per layer (as a string), its head menu.
 * @typedef {{layers: Choice[], heads: Record<string, Choice[]>}} Available
 *
 * Which row a token shows: true, the model's own words (its thinking, its answer) the step that wrote them and prompt
 * tokens their own rows; "all", every token the step that produced it (a prompt token: the step that predicted it);
 * false, every token its own row.
 * @typedef {boolean | "all"} Producing
 */

/**
 * Every trait a view reads: the view state, then the transport (the current choice's maps, full-size pictures).
 * @typedef {Object} Traits
 * @property {TokenGroup[]} groups
 * @property {TokenInfo[]} tokens
 * @property {Medium[]} media
 * @property {DataView[]} pictures
 * @property {Available} available
 * @property {number[]} layer_ids  each captured layer's decoder-layer index, for labels
 * @property {string | null} baseline_prompt  the baseline's text, where relative maps can be shown
 * @property {number[][] | null} sinks  per captured layer, the image columns that are visual sinks (null: no scores)
 * @property {string} reduce  how a list of layers or heads is combined: "mean" or "max"
 * @property {Choice} layer
 * @property {Choice} head
 * @property {number[]} selected
 * @property {Producing} producing  which row a token shows (`showsProducer`)
 * @property {string} unit  "probability" or "uniform" (x the number of image tokens: 1 = spread evenly)
 * @property {boolean} relative  maps divided by the baseline's (the payload's values are ratios)
 * @property {boolean} drop_sinks  the visual sinks left out of the maps
 * @property {boolean} mark_sinks  the visual sinks outlined on the pictures
 * @property {string} head_overview  the layers x heads grid: "off", "mass" or "focus"
 * @property {string} colormap
 * @property {number} opacity
 * @property {boolean} smooth
 * @property {string} overlay_style  "heat" (the map in colour, transparent where attention is low) or "contour" (lines)
 * @property {boolean} shared_scale
 * @property {import("./boxes.js").BoxView[]} boxes  the boxes on the pictures, with the cells each covers
 * @property {boolean} show_special
 * @property {number} width
 * @property {number} group  the temporal group the videos show (a video with fewer groups shows its last)
 * @property {DataView | null} maps_payload
 * @property {DataView | null} heads_payload  the head overview's data (`heads.js`), once the overview is shown
 * @property {DataView[]} full_pictures
 * @property {boolean} want_full_pictures
 */

/**
 * anywidget's model interface over `Traits` (or, for the study widget, its own traits too).
 * @template [T=Traits]
 * @typedef {Object} Model
 * @property {<K extends keyof T>(name: K) => T[K]} get
 * @property {<K extends keyof T>(name: K, value: T[K]) => void} set
 * @property {() => void} save_changes
 * @property {(event: string, callback: () => void) => void} on
 * @property {(event: string, callback: () => void) => void} off
 */

/**
 * Whether a token of `part` shows the step that produced it (else its own row), as Python's
 * `_view_state.shows_producer`.
 * @param {Producing} producing
 * @param {string} part  the token's part: "prompt", "thinking" or "answer"
 */
export function showsProducer(producing, part) {
  return producing === "all" || (producing === true && part !== "prompt");
}

/**
 * The map columns of one frame of a medium.
 * @param {Medium} medium
 * @param {number} frame
 * @returns {{start: number, count: number}}
 */
export function frameColumns(medium, frame) {
  const count = medium.rows * medium.cols;
  return { start: medium.first_column + frame * count, count };
}

/**
 * A select option's value (a choice's key) back to the choice: "3" an index, "2,5" a list, "mean" / "max".
 * @param {string} value
 * @returns {Choice}
 */
export function parseChoice(value) {
  if (/^-?\d+$/.test(value)) return Number(value);
  if (/^\d+(,\d+)+$/.test(value)) return value.split(",").map(Number);
  return value;
}

/**
 * The bytes of a bytes trait. Hosts deliver them as a DataView that may be a window into a larger buffer.
 * @param {DataView} view
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function bytesOf(view) {
  return /** @type {Uint8Array<ArrayBuffer>} */ (new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
}

/**
 * A selection's name among the HTML page's payloads, as Python's `payload_key`: "3|mean", "3|mean|relative".
 * @param {Choice} layer
 * @param {Choice} head
 * @param {boolean} relative
 * @param {boolean} dropSinks
 */
export function payloadKey(layer, head, relative, dropSinks) {
  return `${layer}|${head}${relative ? "|relative" : ""}${dropSinks ? "|drop_sinks" : ""}`;
}

/**
 * Whether any captured layer has a visual sink (else there is nothing to mark or leave out).
 * @param {number[][] | null} sinks
 */
export function hasSinks(sinks) {
  return sinks !== null && sinks.some((columns) => columns.length > 0);
}

/**
 * The indices a layer or head choice covers: one index, a list, or all `count` of them ("mean", "max").
 * @param {Choice} choice
 * @param {number} count
 * @returns {number[]}
 */
export function coveredIndices(choice, count) {
  if (typeof choice === "number") return [choice < 0 ? count + choice : choice];
  if (Array.isArray(choice)) return choice;
  return Array.from({ length: count }, (_, index) => index);
}
