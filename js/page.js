// The one-file HTML export's script: unpack the embedded data and run the widget's view on an in-page model.
//
// Data: base64 of gzip of `uint32 header length | header JSON | blobs`; the header gives the view state (the
// fields of Python's `ViewState` but the pictures) and, for each picture, full-size picture and embedded
// "layer|head" choice, the [offset, length] of its blob.

import { createModel } from "./standalone.js";
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
 * @property {Omit<import("./state.js").Traits, "pictures" | "maps_payload" | "full_pictures" | "want_full_pictures">} state
 * @property {string} prompt
 * @property {string | null} answer  the model's answer, where the result has one
 * @property {string | null} [thinking]  what the model wrote while thinking, where it thought first
 * @property {string} model
 * @property {[number, number][]} pictures
 * @property {[number, number][]} full_pictures
 * @property {Record<string, [number, number]>} payloads
 */

/**
 * Show the view of an opened container in `el`.
 * @param {HTMLElement} el
 * @param {ReturnType<typeof openContainer>} container
 */
export function mount(el, { header, blob }) {
  /** @type {Record<string, DataView>} */
  const payloads = Object.fromEntries(Object.entries(header.payloads).map(([key, span]) => [key, blob(span)]));
  /** @type {import("./state.js").Traits} */
  const state = {
    ...header.state,
    pictures: header.pictures.map(blob),
    full_pictures: header.full_pictures.map(blob),
    want_full_pictures: false,
    maps_payload: payloads[`${header.state.layer}|${header.state.head}`],
  };
  const model = createModel(state, {
    // The page plays the kernel: a layer/head change is answered with that choice's embedded maps.
    onSave: (changes, apply) => {
      if (!("layer" in changes || "head" in changes)) return;
      const payload = payloads[`${model.get("layer")}|${model.get("head")}`];
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
