// The words a view shows: token text on chips and in captions, layer and head names, percentages.
// Token text is user and model text: it is only ever assigned with textContent, never as markup.

// Characters no font draws (C0 controls but tab, line feed and carriage return; DEL and C1; U+FFFE, U+FFFF), as
// Python's `_text.visible` matches them: shown as their escapes, as the figures and the command line show them.
const INVISIBLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffe\uffff]/g;

/**
 * A character as its Python escape: "\\x1b", "\\ufffe".
 * @param {string} character
 */
function escaped(character) {
  const code = character.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * Token text as shown on a chip: visible whitespace, and control characters as their escapes.
 * @param {string} text
 */
export function chipText(text) {
  if (text === "") return "∅";
  return text.replace(INVISIBLE, escaped).replace(/\n/g, "⏎").replace(/\t/g, "⇥");
}

/**
 * A layer choice's name; captured layers are named by their decoder-layer index.
 * @param {number|string|number[]} layer
 * @param {number[]} [layerIds]  each captured layer's decoder-layer index (default: its position)
 * @param {string} [reduce]  how a list of layers is combined
 */
export function layerLabel(layer, layerIds = [], reduce = "mean") {
  return choiceLabel(layer, "layer", (index) => layerIds[index] ?? index, reduce);
}

/**
 * @param {number|string|number[]} head
 * @param {string} [reduce]  how a list of heads is combined
 */
export function headLabel(head, reduce = "mean") {
  return choiceLabel(head, "head", (index) => index, reduce);
}

/**
 * "layer 31", "mean of layers", "max of heads 0, 2" (as Python's `_choices.choice_label`).
 * @param {number|string|number[]} choice
 * @param {string} name
 * @param {(index: number) => number} id
 * @param {string} reduce
 */
function choiceLabel(choice, name, id, reduce) {
  if (typeof choice === "number") return `${name} ${id(choice)}`;
  if (Array.isArray(choice)) return `${reduce} of ${name}s ${choice.map(id).join(", ")}`;
  return `${choice} of ${name}s`;
}

/**
 * A probability as a percentage with the digits it needs, as Python's figures write it (`_figures._percent`): "34%",
 * "4.2%", "0.0061%" (at 16,384 image tokens an even share is 0.0061%: never "0.0%"); never "100%" for less than
 * certain (0.9997: "99.9%").
 * @param {number} probability
 */
export function percent(probability) {
  const value = probability * 100;
  if (value < 10) return `${number(value, 10)}%`;
  if (Math.round(value) === 100 && value < 100) return `${Math.min(value, 99.9).toFixed(1)}%`;
  return `${value.toFixed(0)}%`;
}

/**
 * A number with two significant digits under `whole` ("4.2", "0.0061"), a whole number from it ("34").
 * @param {number} value
 * @param {number} whole
 */
export function number(value, whole) {
  if (!(value > 0)) return "0";
  return value < whole ? String(Number(value.toPrecision(2))) : value.toFixed(0);
}

/**
 * A value of the current maps in the view's unit: a probability ("0.61%"), times an even share ("×2.4 uniform"),
 * or, for baseline-relative maps, a ratio ("×3.1 baseline").
 * @param {number} value  a probability, or a ratio when `relative`
 * @param {{unit: string, relative: boolean, columns: number}} scale  `columns`: the image tokens of all images
 */
export function scaleValue(value, { unit, relative, columns }) {
  if (relative) return `×${number(value, 100)} baseline`;
  if (unit === "uniform") return `×${number(value * columns, 100)} uniform`;
  return percent(value);
}

/**
 * What the colour bar's numbers are, a share of what (as the figures' colour bars say it).
 * @param {{unit: string, relative: boolean, columns: number}} scale  `columns`: the image tokens of all images
 * @param {number} rows  how many tokens' maps are on show (several: their mean)
 */
export function scaleMeaning({ unit, relative, columns }, rows) {
  if (relative) return "share ÷ the baseline's share";
  if (unit === "uniform") return `× uniform: share × ${columns} image tokens (1 = even)`;
  return rows === 1 ? "share of the token's attention" : "share of the tokens' attention (mean)";
}

/** What the model was doing at the step that chose a token of each part it writes. */
const DOING = /** @type {Record<string, string>} */ ({ thinking: "while thinking", answer: "while writing" });

/**
 * What a token's producing map is, for the caption: for a token the model wrote, the step that wrote it (while
 * thinking, or while writing the answer), with the model's probability of it (said as such: not a share of
 * attention); for a prompt token the step that predicted it.
 * @param {import("./state.js").TokenInfo} token
 * @param {string} part  the token's part: "prompt", "thinking" or "answer"
 */
export function producingLabel(token, part) {
  const quoted = quoteTokens([token.text]);
  if (token.producer === null) return `${quoted} has no producing step (the image comes right before it)`;
  const doing = DOING[part];
  if (doing === undefined) return `the step that predicted ${quoted}`;
  if (token.probability === null) return `${doing} ${quoted}`;
  return `${doing} ${quoted} (the model's probability ${percent(token.probability)})`;
}

/**
 * Tokens that show their own rows, for the caption: quoted, and, where the view has a producing switch
 * (`switchable`: the result has words of the model), that the rows are their own.
 * @param {string[]} texts  the tokens' texts
 * @param {boolean} switchable
 */
export function ownRowsLabel(texts, switchable) {
  const quoted = quoteTokens(texts);
  if (!switchable) return quoted;
  return `${quoted} (${texts.length === 1 ? "its own row" : "their own rows"})`;
}

/**
 * Some tokens, quoted, for a caption: at most six, then how many more.
 * @param {string[]} texts  the tokens' texts
 */
export function quoteTokens(texts) {
  // Each token bidi-isolated (FSI ... PDI): a right-to-left override inside one cannot reorder the caption.
  const shown = texts.slice(0, 6).map((text) => `“\u2068${chipText(text)}\u2069”`);
  return texts.length > 6 ? `${shown.join(" + ")} + ${texts.length - 6} more` : shown.join(" + ");
}

/**
 * A temporal group's times: "1.0–1.5 s" (one frame's time alone where both are the same: "2.0 s").
 * @param {number[] | undefined} times  its first and last frame's time in seconds
 */
export function timeSpan(times) {
  if (!times || times.length < 2) return "";
  const [start, end] = times.map((time) => time.toFixed(1));
  return start === end ? `${start} s` : `${start}–${end} s`;
}

/**
 * A video's temporal group, counted from 1 as the pictures are: "group 2 of 8, 1.0–1.5 s".
 * @param {number} group  its index
 * @param {import("./state.js").Medium} medium
 */
export function groupLabel(group, medium) {
  const span = timeSpan(medium.times[group]);
  const words = `group ${group + 1} of ${medium.frames.length}`;
  return span ? `${words}, ${span}` : words;
}
