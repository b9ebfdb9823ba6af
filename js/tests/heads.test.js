import assert from "node:assert/strict";
import { test } from "node:test";

import { decodeHeads, HEADS_PAYLOAD_VERSION, headValues } from "../heads.js";
import { coveredIndices, hasSinks, payloadKey } from "../state.js";

/**
 * A heads payload for `mass[layer][head][query]` and `entropy` (null: none), at `offset` in a larger buffer, laid
 * out as Python's `encode_heads` writes it.
 * @param {number[][][]} mass
 * @param {(number | null)[][][]} entropy
 * @param {number} offset
 */
function payload(mass, entropy, offset) {
  const [layers, heads, queries] = [mass.length, mass[0].length, mass[0][0].length];
  const cells = layers * heads;
  const size = 16 + 4 * cells + 2 * cells * queries;
  const view = new DataView(new ArrayBuffer(offset + size + 3), offset, size);
  [HEADS_PAYLOAD_VERSION, layers, heads, queries].forEach((value, index) => view.setUint32(4 * index, value, true));
  mass.flat().forEach((rows, cell) => {
    const scale = Math.max(...rows);
    view.setFloat32(16 + 4 * cell, scale, true);
    rows.forEach((value, query) => view.setUint8(16 + 4 * cells + cell * queries + query, Math.round((value / scale) * 255)));
  });
  entropy.flat().forEach((rows, cell) => {
    rows.forEach((value, query) => {
      view.setUint8(16 + 4 * cells + cells * queries + cell * queries + query, value === null ? 255 : Math.round(value * 254));
    });
  });
  return view;
}

// 2 layers x 3 heads x 2 queries; every head differs, and query 1 has no entropy in layer 1, head 2.
const MASS = [
  [[0.2, 0.4], [0.1, 0.1], [0.9, 0.3]],
  [[0.05, 0.15], [0.6, 0.2], [0.5, 0.7]],
];
const ENTROPY = [
  [[0.2, 0.6], [1.0, 0.9], [0.0, 0.5]],
  [[0.3, 0.3], [0.8, 0.4], [0.25, null]],
];

test("each head's image share is the mean over the rows, within the quantisation", () => {
  const heads = decodeHeads(payload(MASS, ENTROPY, 5));
  assert.deepEqual([heads.layers, heads.heads, heads.queries], [2, 3, 2]);
  const both = headValues(heads, [0, 1], "mass");
  const second = headValues(heads, [1], "mass");
  MASS.flat().forEach((rows, cell) => {
    assert.ok(Math.abs(both[cell] - (rows[0] + rows[1]) / 2) <= Math.max(...rows) / 255);
    assert.ok(Math.abs(second[cell] - rows[1]) <= Math.max(...rows) / 255);
  });
  assert.deepEqual(Array.from(headValues(heads, [], "mass")), [0, 0, 0, 0, 0, 0]);
});

test("focus is 1 - the mean entropy of the rows that have one; NaN where none has", () => {
  const heads = decodeHeads(payload(MASS, ENTROPY, 0));
  const focus = headValues(heads, [0, 1], "focus");
  ENTROPY.flat().forEach((rows, cell) => {
    const present = rows.filter((value) => value !== null);
    const expected = 1 - present.reduce((a, b) => a + b, 0) / present.length;
    assert.ok(Math.abs(focus[cell] - expected) <= 1 / 254, `cell ${cell}: ${focus[cell]} vs ${expected}`);
  });
  assert.ok(Number.isNaN(headValues(heads, [1], "focus")[5]));
});

test("rejects truncated heads payloads and other versions", () => {
  const good = payload(MASS, ENTROPY, 1);
  assert.throws(() => decodeHeads(new DataView(good.buffer, good.byteOffset, good.byteLength - 1)), /expected/);
  assert.throws(() => decodeHeads(new DataView(new ArrayBuffer(8))), /too short/);
  good.setUint32(0, 7, true);
  assert.throws(() => decodeHeads(good), /version 7/);
});

test("a selection's payload key, the indices a choice covers, and whether there are sinks", () => {
  assert.equal(payloadKey(3, "mean", false, false), "3|mean");
  assert.equal(payloadKey([1, 2], 4, true, true), "1,2|4|relative|drop_sinks");
  assert.deepEqual(coveredIndices(2, 5), [2]);
  assert.deepEqual(coveredIndices(-1, 5), [4]);
  assert.deepEqual(coveredIndices([0, 3], 5), [0, 3]);
  assert.deepEqual(coveredIndices("max", 3), [0, 1, 2]);
  assert.equal(hasSinks(null), false);
  assert.equal(hasSinks([[], []]), false);
  assert.equal(hasSinks([[], [4]]), true);
});
