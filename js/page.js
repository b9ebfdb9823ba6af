// The one-file HTML export's script: unpack the embedded data and run the widget's view on an in-page model.
//
// Data: base64 of gzip of `uint32 header length | header JSON | blobs`; the header gives the view state (the
// fields of Python's `ViewState` but the pictures) and, for each picture, full-size picture, embedded selection
// ("layer|head", "layer|head|relative", ...: `payloadKey`) and the head overview's data, the [offset, length] of
// its blob.

import { createModel } from "./standalone.js";
import { payloadKey } from "./state.js";
import { AttentionView } from "./view.js";

/**
 * @param {string} base64
 * @returns {Promise<ArrayBuffer>}
 */
async function inflate(base64) {
  const binary = atob(base64.trim());
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).arrayBuffer();
}

/**
 * Split a container into its header and DataViews of its blobs.
 * @param {ArrayBuffer} buffer
 */
export function openContainer(buffer) {
  const headerLength = new DataView(buffer).getUint32(0, true);
  /** @type {Header} */
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, headerLength)));
  const start = 4 + headerLength;
  /** @param {[number, number]} span */
  const blob = ([offset, length]) => new DataView(buffer, start + offset, length);
  return { header, blob };
}

/**
 * The container's header.
 * @typedef {Object} Header
 * @property {number} version
 * @property {Omit<import("./state.js").Traits, "pictures" | "maps_payload" | "heads_payload" | "full_pictures" |
 *   "want_full_pictures">} state
 * @property {string} prompt
 * @property {string | null} answer  the model's answer, where the result has one
 * @property {string | null} [thinking]  what the model wrote while thinking, where it thought first
 * @property {string} model
 * @property {[number, number][]} pictures
 * @property {[number, number][]} full_pictures
 * @property {Record<string, [number, number]>} payloads
 * @property {[number, number]} heads  the head overview's data
 */

/**
 * Show the view of an opened container in `el`.
 * @param {HTMLElement} el
 * @param {ReturnType<typeof openContainer>} container
 */
export function mount(el, { header, blob }) {
  /** @type {Record<string, DataView>} */
  const payloads = Object.fromEntries(Object.entries(header.payloads).map(([key, span]) => [key, blob(span)]));
  /** @param {{layer: import("./state.js").Choice, head: import("./state.js").Choice, relative: boolean, drop_sinks: boolean}} at */
  const payloadOf = (at) => payloads[payloadKey(at.layer, at.head, at.relative, at.drop_sinks)];
  /** @type {import("./state.js").Traits} */
  const state = {
    ...header.state,
    pictures: header.pictures.map(blob),
    full_pictures: header.full_pictures.map(blob),
    want_full_pictures: false,
    maps_payload: payloadOf(header.state),
    heads_payload: blob(header.heads),
  };
  const model = createModel(state, {
    // The page plays the kernel: a new selection is answered with its embedded maps.
    onSave: (changes, apply) => {
      if (!["layer", "head", "relative", "drop_sinks"].some((name) => name in changes)) return;
      const payload = payloadOf({
        layer: model.get("layer"),
        head: model.get("head"),
        relative: model.get("relative"),
        drop_sinks: model.get("drop_sinks"),
      });
      if (payload) apply({ maps_payload: payload });
    },
  });
  return new AttentionView(model, el);
}

/**
 * The model's thinking, folded under the title (it may be long): "Thinking (N characters)", opened on a click.
 * @param {string | null} thinking
 */
function showThinking(thinking) {
  const block = /** @type {HTMLDetailsElement | null} */ (document.querySelector(".qvl-page-thinking"));
  if (!block || thinking === null) return;
  const summary = block.querySelector("summary");
  const text = block.querySelector("p");
  if (summary) summary.textContent = `Thinking (${[...thinking].length} characters)`;
  if (text) text.textContent = thinking;
  block.hidden = false;
}

const data = document.getElementById("qvl-data");
const root = document.getElementById("qvl-root");
if (data && root) {
  inflate(data.textContent ?? "")
    .then((buffer) => {
      const container = openContainer(buffer);
      const { prompt, model, answer, thinking } = container.header;
      const title = document.querySelector(".qvl-page-title");
      const meta = document.querySelector(".qvl-page-meta");
      const answerLine = /** @type {HTMLElement | null} */ (document.querySelector(".qvl-page-answer"));
      if (title) title.textContent = prompt;
      showThinking(thinking ?? null);
      // A thinking cut short by the end of generation: its strip's note says so, and so does the answer's line.
      const unfinished = container.header.state.groups.find((group) => group.name === "thinking")?.note;
      if (answerLine && answer !== null) {
        answerLine.textContent = unfinished ? unfinished[0].toUpperCase() + unfinished.slice(1) : `Answer: ${answer}`;
        answerLine.hidden = false;
      }
      if (meta) meta.textContent = `${model} · text→image attention · made with qvl_widget`;
      document.title = `qvl_widget · ${prompt}`;
      mount(root, container);
    })
    .catch((error) => {
      root.textContent = `Could not open the embedded attention data: ${error}`;
    });
}
