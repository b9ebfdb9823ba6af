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

/** @param {number|string} layer */
export function layerLabel(layer) {
  return layer === "mean" ? "mean of layers" : `layer ${layer}`;
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
 * Some tokens, quoted, for a caption: at most six, then how many more.
 * @param {string[]} texts  the tokens' texts
 */
export function quoteTokens(texts) {
  // Each token bidi-isolated (FSI ... PDI): a right-to-left override inside one cannot reorder the caption.
  const shown = texts.slice(0, 6).map((text) => `“\u2068${chipText(text)}\u2069”`);
  return texts.length > 6 ? `${shown.join(" + ")} + ${texts.length - 6} more` : shown.join(" + ");
}
