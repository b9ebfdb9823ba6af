import assert from "node:assert/strict";
import { test } from "node:test";

import {
  chipText,
  headLabel,
  layerLabel,
  ownRowsLabel,
  percent,
  producingLabel,
  quoteTokens,
  scaleMeaning,
  scaleValue,
} from "../labels.js";
import { createModel } from "../standalone.js";
import { showsProducer } from "../state.js";
import { pinned } from "../tokens.js";

test("chip text shows whitespace and never returns markup-shaped surprises", () => {
  assert.equal(chipText("\n"), "⏎");
  assert.equal(chipText(" red"), " red");
  assert.equal(chipText(""), "∅");
  assert.equal(chipText("<b>x</b>"), "<b>x</b>");
});

test("chip text shows control characters as their escapes, as the figures do (Python's _text.visible)", () => {
  assert.equal(chipText("a\u001bb\u0000c\u000b\u000c\u007f\u0085\ufffe\uffff"), "a\\x1bb\\x00c\\x0b\\x0c\\x7f\\x85\\ufffe\\uffff");
  assert.equal(chipText("\r\n\té"), "\r⏎⇥é");
});

test("captions quote at most six tokens, each bidi-isolated", () => {
  assert.equal(quoteTokens([" red", " cat"]), "“\u2068 red\u2069” + “\u2068 cat\u2069”");
  const eight = quoteTokens(["a", "b", "c", "d", "e", "f", "g", "h"]);
  assert.ok(eight.endsWith(" + 2 more") && !eight.includes("“\u2068g"));
});

test("pinning: a click pins one token or unpins it; shift-click toggles it among the pinned", () => {
  assert.deepEqual(pinned([], 3, false), [3]);
  assert.deepEqual(pinned([3], 3, false), []);
  assert.deepEqual(pinned([3, 4], 3, false), [3]);
  assert.deepEqual(pinned([3], 4, true), [3, 4]);
  assert.deepEqual(pinned([3, 4], 3, true), [4]);
});

test("an answer word's caption says the step wrote it, with a probability that is never rounded to certainty", () => {
  const token = { text: "orange", special: false, group: 1, producer: 8, probability: 0.99997 };
  const said = "while writing “\u2068orange\u2069” (the model's probability 99.9%)"; // a probability, not a share
  assert.equal(producingLabel(token, "answer"), said);
  const likely = producingLabel({ ...token, probability: 0.97 }, "answer");
  assert.equal(likely, "while writing “\u2068orange\u2069” (the model's probability 97%)");
  assert.equal(producingLabel(token, "prompt"), "the step that predicted “\u2068orange\u2069”");
  assert.match(producingLabel({ ...token, producer: null }, "answer"), /has no producing step/);
  // Row 0 (the first token after the image) is a producing step like any other.
  assert.equal(producingLabel({ ...token, producer: 0 }, "prompt"), "the step that predicted “\u2068orange\u2069”");
  assert.equal(percent(1), "100%");
  assert.equal(percent(0.05), "5%");
  assert.equal(percent(0.042), "4.2%");
  assert.equal(percent(0.99997), "99.9%");
});

test("a thinking word's caption says the model was thinking, not writing its answer", () => {
  const token = { text: "maybe", special: false, group: 1, producer: 8, probability: 0.5 };
  assert.equal(producingLabel(token, "thinking"), "while thinking “\u2068maybe\u2069” (the model's probability 50%)");
  assert.equal(producingLabel({ ...token, probability: null }, "thinking"), "while thinking “\u2068maybe\u2069”");
});

test("the producing switch applies to the model's words by default, to every token with 'all', to none when off", () => {
  assert.deepEqual(
    ["prompt", "thinking", "answer"].map((part) => showsProducer(true, part)),
    [false, true, true],
  );
  assert.deepEqual(
    ["prompt", "thinking", "answer"].map((part) => showsProducer("all", part)),
    [true, true, true],
  );
  assert.deepEqual(
    ["prompt", "thinking", "answer"].map((part) => showsProducer(false, part)),
    [false, false, false],
  );
});

test("tokens on their own rows say so where the view could show the producing step instead", () => {
  assert.equal(ownRowsLabel(["circle"], true), "“\u2068circle\u2069” (its own row)");
  assert.equal(ownRowsLabel(["red", "cat"], true), "“\u2068red\u2069” + “\u2068cat\u2069” (their own rows)");
  assert.equal(ownRowsLabel(["circle"], false), "“\u2068circle\u2069”"); // no switch: nothing else to show
});

test("the colour bar says what its numbers are a share of, in each unit", () => {
  const scale = { unit: "probability", relative: false, columns: 64 };
  assert.equal(scaleMeaning(scale, 1), "share of the token's attention");
  assert.equal(scaleMeaning(scale, 3), "share of the tokens' attention (mean)");
  assert.equal(scaleMeaning({ ...scale, unit: "uniform" }, 1), "× uniform: share × 64 image tokens (1 = even)");
  assert.equal(scaleMeaning({ ...scale, relative: true }, 1), "share ÷ the baseline's share");
});

test("layers are named by their decoder index", () => {
  assert.equal(layerLabel(1, [29, 31]), "layer 31");
  assert.equal(layerLabel(1), "layer 1");
});

test("labels for layers and heads", () => {
  assert.equal(layerLabel("mean"), "mean of layers");
  assert.equal(layerLabel(3), "layer 3");
  assert.equal(headLabel("max"), "max of heads");
  assert.equal(headLabel(0), "head 0");
});

test("standalone model: set fires change events at once, save_changes hands changes to the kernel", () => {
  /** @type {string[]} */
  const seen = [];
  /** @type {Record<string, any>[]} */
  const saved = [];
  const model = createModel({ layer: 0, head: "mean" }, {
    onSave: (changes, apply) => {
      saved.push(changes);
      apply({ payload: "new" });
    },
  });
  const onLayer = () => seen.push(`layer=${model.get("layer")}`);
  model.on("change:layer", onLayer);
  model.on("change:payload", () => seen.push(`payload=${model.get("payload")}`));
  model.set("layer", 2);
  assert.deepEqual(seen, ["layer=2"]);
  model.save_changes();
  assert.deepEqual(saved, [{ layer: 2 }]);
  assert.deepEqual(seen, ["layer=2", "payload=new"]);
  model.off("change:layer", onLayer);
  model.set("layer", 3);
  assert.equal(seen.length, 2);
});

test("values keep two significant digits at any resolution, in the view's unit", () => {
  assert.equal(percent(0.34), "34%");
  assert.equal(percent(0.000061), "0.0061%"); // an even share at 16,384 image tokens, not "0.0%"
  assert.equal(percent(0), "0%");
  const columns = 16384;
  assert.equal(scaleValue(0.000061, { unit: "probability", relative: false, columns }), "0.0061%");
  assert.equal(scaleValue(1 / columns, { unit: "uniform", relative: false, columns }), "×1 uniform");
  assert.equal(scaleValue(0.00015, { unit: "uniform", relative: false, columns }), "×2.5 uniform");
  // A relative map's values are ratios already: the unit does not scale them.
  assert.equal(scaleValue(3.14, { unit: "uniform", relative: true, columns }), "×3.1 baseline");
  assert.equal(scaleValue(250, { unit: "probability", relative: true, columns }), "×250 baseline");
});

test("a video's groups are named from 1 with their times; a group without times by its number alone", async () => {
  const { groupLabel, timeSpan } = await import("../labels.js");
  const frame = { picture: 0, mime: "image/jpeg" };
  const medium = { kind: "video", rows: 2, cols: 2, first_column: 0, width: 4, height: 4, frames: [frame, frame],
    times: [[0, 0.5], [1, 1.5]] };
  assert.equal(groupLabel(1, medium), "group 2 of 2, 1.0–1.5 s");
  assert.equal(timeSpan([2, 2]), "2.0 s");
  assert.equal(timeSpan(undefined), "");
  assert.equal(groupLabel(0, { ...medium, times: [] }), "group 1 of 2");
});
