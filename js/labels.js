// The words a view shows: token text on chips and in captions, layer and head names, percentages.
// Token text is user and model text: it is only ever assigned with textContent, never as markup.

/**
 * Token text as shown on a chip: visible whitespace.
 * @param {string} text
 */
export function chipText(text) {
  if (text === "") return "∅";
  return text.replace(/\n/g, "⏎").replace(/\t/g, "⇥");
}

/**
 * A layer choice's name: captured layer `layer` is named by its decoder-layer index.
 * @param {number|string} layer
 * @param {number[]} [layerIds]  each captured layer's decoder-layer index (default: its position)
 */
export function layerLabel(layer, layerIds = []) {
  if (layer === "mean") return "mean of layers";
  return `layer ${typeof layer === "number" ? (layerIds[layer] ?? layer) : layer}`;
}

/** @param {number|string} head */
export function headLabel(head) {
  return head === "mean" || head === "max" ? `${head} of heads` : `head ${head}`;
}

/** @param {number} probability */
export function percent(probability) {
  return `${(probability * 100).toFixed(probability < 0.1 ? 1 : 0)}%`;
}

/**
 * What a token's producing map is, for the caption: for an answer token the step that wrote it, with the
 * model's probability of it; for a prompt token the step that predicted it.
 * @param {import("./state.js").TokenInfo} token
 * @param {boolean} isAnswer
 */
export function producingLabel(token, isAnswer) {
  const quoted = quoteTokens([token.text]);
  if (token.producer === null) return `${quoted} has no producing step (the image comes right before it)`;
  if (!isAnswer) return `the step that predicted ${quoted}`;
  return token.probability === null ? `while writing ${quoted}` : `while writing ${quoted} (${probability(token.probability)})`;
}

/**
 * A token's probability as a percentage that never rounds up to a certainty it is not (0.9997: "99.9%").
 * @param {number} value
 */
export function probability(value) {
  const shown = percent(value);
  return shown === "100%" && value < 1 ? `${(Math.floor(value * 1000) / 10).toFixed(1)}%` : shown;
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
