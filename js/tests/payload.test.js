import assert from "node:assert/strict";
import { test } from "node:test";

import { blockSums, decodeMaps, meanMass, meanOfRows, PAYLOAD_VERSION, valueAt } from "../payload.js";

/**
 * A payload for `rows` (arrays of probabilities), placed at `offset` inside a larger buffer.
 * @param {number[][]} rows
 * @param {number} offset
 */
function payload(rows, offset) {
  const queries = rows.length;
  const columns = rows[0].length;
  const size = 12 + 8 * queries + queries * columns;
  const buffer = new ArrayBuffer(offset + size + 5);
  const view = new DataView(buffer, offset, size);
  view.setUint32(0, PAYLOAD_VERSION, true);
  view.setUint32(4, queries, true);
  view.setUint32(8, columns, true);
  rows.forEach((row, index) => {
    const scale = Math.max(...row);
    view.setFloat32(12 + 4 * index, scale, true);
    view.setFloat32(12 + 4 * (queries + index), row.reduce((a, b) => a + b, 0), true);
    row.forEach((value, column) => {
      view.setUint8(12 + 8 * queries + index * columns + column, scale > 0 ? Math.round((value / scale) * 255) : 0);
    });
  });
  return view;
}

const ROWS = [
  [0.1, 0.4, 0.0, 0.2],
  [0.3, 0.0, 0.05, 0.05],
  [0.0, 0.0, 0.0, 0.0],
];

test("decodes a payload whose DataView starts at an odd offset", () => {
  const maps = decodeMaps(payload(ROWS, 3));
  assert.equal(maps.queries, 3);
  assert.equal(maps.columns, 4);
  assert.ok(Math.abs(maps.scales[0] - 0.4) < 1e-7);
  assert.ok(Math.abs(maps.mass[1] - 0.4) < 1e-7);
  assert.equal(maps.values.length, 12);
  assert.equal(maps.values[1], 255);
  for (const [row, values] of ROWS.entries()) {
    for (const [column, value] of values.entries()) {
      assert.ok(Math.abs(valueAt(maps, row, column) - value) <= (0.5 / 255) * Math.max(...values) + 1e-6);
    }
  }
});

test("mean of several rows over a column range", () => {
  const maps = decodeMaps(payload(ROWS, 1));
  const mean = meanOfRows(maps, [0, 1], 1, 3);
  assert.equal(mean.length, 3);
  assert.ok(Math.abs(mean[0] - 0.2) < 2e-3);
  assert.ok(Math.abs(mean[2] - 0.125) < 2e-3);
  assert.deepEqual(Array.from(meanOfRows(maps, [], 0, 2)), [0, 0]);
  assert.ok(Math.abs(meanMass(maps, [0, 1]) - 0.55) < 1e-6);
});

test("a zero row decodes to zeros", () => {
  const maps = decodeMaps(payload(ROWS, 0));
  assert.deepEqual(Array.from(meanOfRows(maps, [2], 0, 4)), [0, 0, 0, 0]);
});

test("rejects truncated payloads and other versions", () => {
  const good = payload(ROWS, 2);
  assert.throws(() => decodeMaps(new DataView(good.buffer, good.byteOffset, good.byteLength - 1)), /expected/);
  assert.throws(() => decodeMaps(new DataView(new ArrayBuffer(4))), /too short/);
  const other = payload(ROWS, 0);
  other.setUint32(0, 99, true);
  assert.throws(() => decodeMaps(other), /version 99/);
});

test("block sums: each run of columns' total, averaged over the rows (a video's share per temporal group)", () => {
  const maps = decodeMaps(payload(ROWS, 1));
  const sums = blockSums(maps, [0, 1], 0, 2, 2);
  assert.equal(sums.length, 2);
  assert.ok(Math.abs(sums[0] - (0.1 + 0.4 + 0.3 + 0.0) / 2) < 2e-3);
  assert.ok(Math.abs(sums[1] - (0.0 + 0.2 + 0.05 + 0.05) / 2) < 2e-3);
  assert.deepEqual([...blockSums(maps, [], 0, 2, 2)], [0, 0]);
  assert.ok(Math.abs(blockSums(maps, [0], 1, 1, 3)[2] - 0.2) < 2e-3);
});
