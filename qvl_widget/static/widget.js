// js/dom.js
function element(tag, className, attributes = {}) {
  const node = document.createElement(tag);
  node.className = className;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

// js/examples.js
var ExampleTable = class {
  /**
   * @param {string} column  what the value is
   * @param {(id: string) => void} choose
   */
  constructor(column, choose) {
    this.choose = choose;
    this.rows = [];
    this.reversed = false;
    this.marked = null;
    this.root = element("div", "qvl-examples");
    const table = element("table", "qvl-examples-table");
    const head = element("tr", "");
    const order = element("button", "qvl-examples-order", {
      type: "button",
      title: "Reverse the order (the kernel sends the best first)"
    });
    order.addEventListener("click", () => {
      this.reversed = !this.reversed;
      this.render();
    });
    this.order = order;
    for (const [text, className] of [["#", "qvl-examples-rank"], ["example", "qvl-examples-id"]]) {
      const cell = element("th", className, { scope: "col" });
      cell.textContent = text;
      head.append(cell);
    }
    const valueHead = element("th", "qvl-examples-value", { scope: "col" });
    valueHead.append(order);
    head.append(valueHead);
    this.column = column;
    const thead = element("thead", "");
    thead.append(head);
    this.body = element("tbody", "");
    table.append(thead, this.body);
    this.root.append(table);
  }
  /** @param {ExampleRow[]} rows */
  setRows(rows) {
    this.rows = rows;
    this.render();
  }
  /** @param {string | null} id  the example on view, marked in the table */
  mark(id) {
    this.marked = id;
    for (const row of this.body.children) {
      const chosen = row instanceof HTMLElement && row.dataset.qvlExample === id;
      row.classList.toggle("qvl-examples-chosen", chosen);
      row.setAttribute("aria-selected", String(chosen));
    }
  }
  render() {
    this.order.textContent = `${this.column} ${this.reversed ? "\u25B2" : "\u25BC"}`;
    const ranked = this.rows.map((row, index) => ({ row, rank: index + 1 }));
    if (this.reversed) ranked.reverse();
    this.body.replaceChildren(...ranked.map(({ row, rank }) => this.line(row, rank)));
    this.mark(this.marked);
  }
  /**
   * @param {ExampleRow} row
   * @param {number} rank
   */
  line(row, rank) {
    const line = element("tr", "qvl-examples-row", { tabindex: "0", role: "button" });
    line.dataset.qvlExample = row.id;
    const value = row.error !== null ? "failed" : row.value === null ? "no value" : row.value.toFixed(3);
    for (const [text, className] of [
      [String(rank), "qvl-examples-rank"],
      [row.id, "qvl-examples-id"],
      [value, "qvl-examples-value"]
    ]) {
      const cell = element("td", className);
      cell.textContent = text;
      line.append(cell);
    }
    if (row.error !== null) {
      line.classList.add("qvl-examples-failed");
      line.title = row.error;
    }
    line.addEventListener("click", () => this.choose(row.id));
    line.addEventListener("keydown", (event) => this.key(event, line, row.id));
    return line;
  }
  /**
   * @param {KeyboardEvent} event
   * @param {HTMLElement} line
   * @param {string} id
   */
  key(event, line, id) {
    if (event.key === "Enter" || event.key === " ") this.choose(id);
    else if (event.key === "ArrowDown") line.nextElementSibling?.focus();
    else if (event.key === "ArrowUp") line.previousElementSibling?.focus();
    else return;
    event.preventDefault();
  }
};

// js/colormaps.js
var COLORMAP_HEX = {
  inferno: "00000401000501010601010802010a02020c02020e03021004031204031405041706041907051b08051d09061f0a07220b07240c08260d08290e092b10092d110a30120a32140b34150b37160b39180c3c190c3e1b0c411c0c431e0c451f0c48210c4a230c4c240c4f260c51280b53290b552b0b572d0b592f0a5b310a5c320a5e340a5f3609613809623909633b09643d09653e0966400a67420a68440a68450a69470b6a490b6a4a0c6b4c0c6b4d0d6c4f0d6c510e6c520e6d540f6d550f6d57106e59106e5a116e5c126e5d126e5f136e61136e62146e64156e65156e67166e69166e6a176e6c186e6d186e6f196e71196e721a6e741a6e751b6e771c6d781c6d7a1d6d7c1d6d7d1e6d7f1e6c801f6c82206c84206b85216b87216b88226a8a226a8c23698d23698f24699025689225689326679526679727669827669a28659b29649d29649f2a63a02a63a22b62a32c61a52c60a62d60a82e5fa92e5eab2f5ead305dae305cb0315bb1325ab3325ab43359b63458b73557b93556ba3655bc3754bd3853bf3952c03a51c13a50c33b4fc43c4ec63d4dc73e4cc83f4bca404acb4149cc4248ce4347cf4446d04545d24644d34743d44842d54a41d74b3fd84c3ed94d3dda4e3cdb503bdd513ade5238df5337e05536e15635e25734e35933e45a31e55c30e65d2fe75e2ee8602de9612bea632aeb6429eb6628ec6726ed6925ee6a24ef6c23ef6e21f06f20f1711ff1731df2741cf3761bf37819f47918f57b17f57d15f67e14f68013f78212f78410f8850ff8870ef8890cf98b0bf98c0af98e09fa9008fa9207fa9407fb9606fb9706fb9906fb9b06fb9d07fc9f07fca108fca309fca50afca60cfca80dfcaa0ffcac11fcae12fcb014fcb216fcb418fbb61afbb81dfbba1ffbbc21fbbe23fac026fac228fac42afac62df9c72ff9c932f9cb35f8cd37f8cf3af7d13df7d340f6d543f6d746f5d949f5db4cf4dd4ff4df53f4e156f3e35af3e55df2e661f2e865f2ea69f1ec6df1ed71f1ef75f1f179f2f27df2f482f3f586f3f68af4f88ef5f992f6fa96f8fb9af9fc9dfafda1fcffa4",
  viridis: "44015444025645045745055946075a46085c460a5d460b5e470d60470e6147106347116447136548146748166848176948186a481a6c481b6d481c6e481d6f481f70482071482173482374482475482576482677482878482979472a7a472c7a472d7b472e7c472f7d46307e46327e46337f463480453581453781453882443983443a83443b84433d84433e85423f854240864241864142874144874045884046883f47883f48893e49893e4a893e4c8a3d4d8a3d4e8a3c4f8a3c508b3b518b3b528b3a538b3a548c39558c39568c38588c38598c375a8c375b8d365c8d365d8d355e8d355f8d34608d34618d33628d33638d32648e32658e31668e31678e31688e30698e306a8e2f6b8e2f6c8e2e6d8e2e6e8e2e6f8e2d708e2d718e2c718e2c728e2c738e2b748e2b758e2a768e2a778e2a788e29798e297a8e297b8e287c8e287d8e277e8e277f8e27808e26818e26828e26828e25838e25848e25858e24868e24878e23888e23898e238a8d228b8d228c8d228d8d218e8d218f8d21908d21918c20928c20928c20938c1f948c1f958b1f968b1f978b1f988b1f998a1f9a8a1e9b8a1e9c891e9d891f9e891f9f881fa0881fa1881fa1871fa28720a38620a48621a58521a68522a78522a88423a98324aa8325ab8225ac8226ad8127ad8128ae8029af7f2ab07f2cb17e2db27d2eb37c2fb47c31b57b32b67a34b67935b77937b87838b9773aba763bbb753dbc743fbc7340bd7242be7144bf7046c06f48c16e4ac16d4cc26c4ec36b50c46a52c56954c56856c66758c7655ac8645cc8635ec96260ca6063cb5f65cb5e67cc5c69cd5b6ccd5a6ece5870cf5773d05675d05477d1537ad1517cd2507fd34e81d34d84d44b86d54989d5488bd6468ed64590d74393d74195d84098d83e9bd93c9dd93ba0da39a2da37a5db36a8db34aadc32addc30b0dd2fb2dd2db5de2bb8de29bade28bddf26c0df25c2df23c5e021c8e020cae11fcde11dd0e11cd2e21bd5e21ad8e219dae319dde318dfe318e2e418e5e419e7e419eae51aece51befe51cf1e51df4e61ef6e620f8e621fbe723fde725",
  jet: "00008000008400008900008d00009200009600009b00009f0000a40000a80000ad0000b20000b60000bb0000bf0000c40000c80000cd0000d10000d60000da0000df0000e30000e80000ed0000f10000f60000fa0000ff0000ff0000ff0000ff0000ff0004ff0008ff000cff0010ff0014ff0018ff001cff0020ff0024ff0028ff002cff0030ff0034ff0038ff003cff0040ff0044ff0048ff004cff0050ff0054ff0058ff005cff0060ff0064ff0068ff006cff0070ff0074ff0078ff007cff0080ff0084ff0088ff008cff0090ff0094ff0098ff009cff00a0ff00a4ff00a8ff00acff00b0ff00b4ff00b8ff00bcff00c0ff00c4ff00c8ff00ccff00d0ff00d4ff00d8ff00dcfe00e0fb00e4f802e8f406ecf109f0ee0cf4eb0ff8e713fce416ffe119ffde1cffdb1fffd723ffd426ffd129ffce2cffca30ffc733ffc436ffc139ffbe3cffba40ffb743ffb446ffb149ffad4dffaa50ffa753ffa456ffa05aff9d5dff9a60ff9763ff9466ff906aff8d6dff8a70ff8773ff8377ff807aff7d7dff7a80ff7783ff7387ff708aff6d8dff6a90ff6694ff6397ff609aff5d9dff5aa0ff56a4ff53a7ff50aaff4dadff49b1ff46b4ff43b7ff40baff3cbeff39c1ff36c4ff33c7ff30caff2cceff29d1ff26d4ff23d7ff1fdbff1cdeff19e1ff16e4ff13e7ff0febff0ceeff09f1fc06f4f802f8f500fbf100feed00ffea00ffe600ffe200ffde00ffdb00ffd700ffd300ffd000ffcc00ffc800ffc400ffc100ffbd00ffb900ffb600ffb200ffae00ffab00ffa700ffa300ff9f00ff9c00ff9800ff9400ff9100ff8d00ff8900ff8600ff8200ff7e00ff7a00ff7700ff7300ff6f00ff6c00ff6800ff6400ff6000ff5d00ff5900ff5500ff5200ff4e00ff4a00ff4700ff4300ff3f00ff3b00ff3800ff3400ff3000ff2d00ff2900ff2500ff2200ff1e00ff1a00ff1600ff1300fa0f00f60b00f10800ed0400e80000e40000df0000da0000d60000d10000cd0000c80000c40000bf0000bb0000b60000b20000ad0000a80000a400009f00009b00009600009200008d0000890000840000800000",
  gray: "0000000101010202020303030404040505050606060707070808080909090a0a0a0b0b0b0c0c0c0d0d0d0e0e0e0f0f0f1010101111111212121313131414141515151616161717171818181919191a1a1a1b1b1b1c1c1c1d1d1d1e1e1e1f1f1f2020202121212222222323232424242525252626262727272828282929292a2a2a2b2b2b2c2c2c2d2d2d2e2e2e2f2f2f3030303131313232323333333434343535353636363737373838383939393a3a3a3b3b3b3c3c3c3d3d3d3e3e3e3f3f3f4040404141414242424343434444444545454646464747474848484949494a4a4a4b4b4b4c4c4c4d4d4d4e4e4e4f4f4f5050505151515252525353535454545555555656565757575858585959595a5a5a5b5b5b5c5c5c5d5d5d5e5e5e5f5f5f6060606161616262626363636464646565656666666767676868686969696a6a6a6b6b6b6c6c6c6d6d6d6e6e6e6f6f6f7070707171717272727373737474747575757676767777777878787979797a7a7a7b7b7b7c7c7c7d7d7d7e7e7e7f7f7f8080808181818282828383838484848585858686868787878888888989898a8a8a8b8b8b8c8c8c8d8d8d8e8e8e8f8f8f9090909191919292929393939494949595959696969797979898989999999a9a9a9b9b9b9c9c9c9d9d9d9e9e9e9f9f9fa0a0a0a1a1a1a2a2a2a3a3a3a4a4a4a5a5a5a6a6a6a7a7a7a8a8a8a9a9a9aaaaaaabababacacacadadadaeaeaeafafafb0b0b0b1b1b1b2b2b2b3b3b3b4b4b4b5b5b5b6b6b6b7b7b7b8b8b8b9b9b9babababbbbbbbcbcbcbdbdbdbebebebfbfbfc0c0c0c1c1c1c2c2c2c3c3c3c4c4c4c5c5c5c6c6c6c7c7c7c8c8c8c9c9c9cacacacbcbcbcccccccdcdcdcecececfcfcfd0d0d0d1d1d1d2d2d2d3d3d3d4d4d4d5d5d5d6d6d6d7d7d7d8d8d8d9d9d9dadadadbdbdbdcdcdcdddddddedededfdfdfe0e0e0e1e1e1e2e2e2e3e3e3e4e4e4e5e5e5e6e6e6e7e7e7e8e8e8e9e9e9eaeaeaebebebecececedededeeeeeeefefeff0f0f0f1f1f1f2f2f2f3f3f3f4f4f4f5f5f5f6f6f6f7f7f7f8f8f8f9f9f9fafafafbfbfbfcfcfcfdfdfdfefefeffffff"
};

// js/colormap.js
var COLORMAP_NAMES = Object.keys(COLORMAP_HEX);
var rgbCache = /* @__PURE__ */ new Map();
var packedCache = /* @__PURE__ */ new Map();
function rgbTable(name) {
  let table = rgbCache.get(name);
  if (!table) {
    const hex = COLORMAP_HEX[name];
    if (!hex) throw new Error(`unknown colormap "${name}": choose one of ${COLORMAP_NAMES.join(", ")}`);
    table = new Uint8Array(768);
    for (let index = 0; index < 768; index++) table[index] = parseInt(hex.slice(2 * index, 2 * index + 2), 16);
    rgbCache.set(name, table);
  }
  return table;
}
function packedTable(name) {
  let packed2 = packedCache.get(name);
  if (!packed2) {
    const rgb = rgbTable(name);
    const bytes = new Uint8Array(256 * 4);
    for (let index = 0; index < 256; index++) {
      bytes.set([rgb[3 * index], rgb[3 * index + 1], rgb[3 * index + 2], 255], 4 * index);
    }
    packed2 = new Uint32Array(bytes.buffer);
    packedCache.set(name, packed2);
  }
  return packed2;
}
function colourIndex(value, max) {
  if (!(max > 0) || !(value > 0)) return 0;
  return Math.min(255, Math.round(value / max * 255));
}
function cssColour(name, value, max, alpha = 1) {
  const rgb = rgbTable(name);
  const index = colourIndex(value, max);
  return `rgba(${rgb[3 * index]}, ${rgb[3 * index + 1]}, ${rgb[3 * index + 2]}, ${alpha})`;
}

// js/paint.js
function toIndices(values, max) {
  const indices = new Uint8Array(values.length);
  for (let index = 0; index < values.length; index++) indices[index] = colourIndex(values[index], max);
  return indices;
}
function maximum(values) {
  let max = 0;
  for (let index = 0; index < values.length; index++) if (values[index] > max) max = values[index];
  return max;
}
function paintCells(pixels, indices, colormap) {
  const lut = packedTable(colormap);
  const out = new Uint32Array(pixels.buffer, pixels.byteOffset, pixels.byteLength / 4);
  for (let index = 0; index < indices.length; index++) out[index] = lut[indices[index]];
}
function makeScratch(rows, cols) {
  const grid = document.createElement("canvas");
  grid.className = "qvl-scratch";
  grid.width = cols;
  grid.height = rows;
  return { grid, gridContext: context2d(grid) };
}
function context2d(canvas) {
  const context = canvas.getContext("2d");
  if (!context) throw new Error("this browser gives no 2-D canvas context");
  return context;
}
function drawMap(context, scratch, values, rows, cols, max, style) {
  const image = scratch.gridContext.createImageData(cols, rows);
  paintCells(image.data, toIndices(values, max), style.colormap);
  scratch.gridContext.putImageData(image, 0, 0);
  context.imageSmoothingEnabled = style.smooth;
  context.imageSmoothingQuality = "high";
  context.clearRect(0, 0, style.width, style.height);
  context.drawImage(scratch.grid, 0, 0, cols, rows, 0, 0, style.width, style.height);
}

// js/colorbar.js
var ColourBar = class {
  constructor() {
    this.element = element("div", "qvl-colorbar", { "aria-hidden": "true" });
    this.meaning = element("span", "qvl-colorbar-meaning");
    this.ramp = element("canvas", "qvl-colorbar-ramp");
    this.ramp.width = 256;
    this.ramp.height = 1;
    this.low = element("span", "qvl-colorbar-label");
    this.high = element("span", "qvl-colorbar-label");
    this.element.append(this.meaning, this.low, this.ramp, this.high);
  }
  /**
   * @param {string} colormap
   * @param {number} max  the top of the scale
   * @param {(value: number) => string} label  a value's words in the view's unit
   * @param {string} meaning  what the numbers are, e.g. "share of the token's attention"
   */
  draw(colormap, max, label, meaning) {
    const context = context2d(this.ramp);
    const pixels = context.createImageData(256, 1);
    const rgb = rgbTable(colormap);
    for (let index = 0; index < 256; index++) {
      pixels.data.set([rgb[3 * index], rgb[3 * index + 1], rgb[3 * index + 2], 255], 4 * index);
    }
    context.putImageData(pixels, 0, 0);
    this.meaning.textContent = `${meaning}:`;
    this.low.textContent = label(0);
    this.high.textContent = label(max);
  }
};

// js/labels.js
var INVISIBLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffe\uffff]/g;
function escaped(character) {
  const code = character.charCodeAt(0);
  return code < 256 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}
function chipText(text) {
  if (text === "") return "\u2205";
  return text.replace(INVISIBLE, escaped).replace(/\n/g, "\u23CE").replace(/\t/g, "\u21E5");
}
function layerLabel(layer, layerIds = [], reduce = "mean") {
  return choiceLabel(layer, "layer", (index) => layerIds[index] ?? index, reduce);
}
function headLabel(head, reduce = "mean") {
  return choiceLabel(head, "head", (index) => index, reduce);
}
function choiceLabel(choice, name, id, reduce) {
  if (typeof choice === "number") return `${name} ${id(choice)}`;
  if (Array.isArray(choice)) return `${reduce} of ${name}s ${choice.map(id).join(", ")}`;
  return `${choice} of ${name}s`;
}
function percent(probability) {
  const value = probability * 100;
  if (value < 10) return `${number(value, 10)}%`;
  if (Math.round(value) === 100 && value < 100) return `${Math.min(value, 99.9).toFixed(1)}%`;
  return `${value.toFixed(0)}%`;
}
function number(value, whole) {
  if (!(value > 0)) return "0";
  return value < whole ? String(Number(value.toPrecision(2))) : value.toFixed(0);
}
function scaleValue(value, { unit, relative, columns }) {
  if (relative) return `\xD7${number(value, 100)} baseline`;
  if (unit === "uniform") return `\xD7${number(value * columns, 100)} uniform`;
  return percent(value);
}
function scaleMeaning({ unit, relative, columns }, rows) {
  if (relative) return "share \xF7 the baseline's share";
  if (unit === "uniform") return `\xD7 uniform: share \xD7 ${columns} image tokens (1 = even)`;
  return rows === 1 ? "share of the token's attention" : "share of the tokens' attention (mean)";
}
var DOING = (
  /** @type {Record<string, string>} */
  { thinking: "while thinking", answer: "while writing" }
);
function producingLabel(token, part) {
  const quoted = quoteTokens([token.text]);
  if (token.producer === null) return `${quoted} has no producing step (the image comes right before it)`;
  const doing = DOING[part];
  if (doing === void 0) return `the step that predicted ${quoted}`;
  if (token.probability === null) return `${doing} ${quoted}`;
  return `${doing} ${quoted} (the model's probability ${percent(token.probability)})`;
}
function ownRowsLabel(texts, switchable) {
  const quoted = quoteTokens(texts);
  if (!switchable) return quoted;
  return `${quoted} (${texts.length === 1 ? "its own row" : "their own rows"})`;
}
function quoteTokens(texts) {
  const shown = texts.slice(0, 6).map((text) => `\u201C\u2068${chipText(text)}\u2069\u201D`);
  return texts.length > 6 ? `${shown.join(" + ")} + ${texts.length - 6} more` : shown.join(" + ");
}
function timeSpan(times) {
  if (!times || times.length < 2) return "";
  const [start, end] = times.map((time) => time.toFixed(1));
  return start === end ? `${start} s` : `${start}\u2013${end} s`;
}
function groupLabel(group, medium) {
  const span = timeSpan(medium.times[group]);
  const words = `group ${group + 1} of ${medium.frames.length}`;
  return span ? `${words}, ${span}` : words;
}

// js/heads.js
var HEADS_PAYLOAD_VERSION = 1;
var HEADER_BYTES = 16;
var NO_ENTROPY = 255;
var GRID_CSS_SIZE = 280;
var MAX_CELL = 24;
var MIN_CELL = 4;
function decodeHeads(view) {
  if (view.byteLength < HEADER_BYTES) throw new Error(`heads payload too short: ${view.byteLength} bytes`);
  const version = view.getUint32(0, true);
  if (version !== HEADS_PAYLOAD_VERSION) {
    throw new Error(`heads payload version ${version}, expected ${HEADS_PAYLOAD_VERSION}: update qvl_widget`);
  }
  const [layers, heads, queries] = [4, 8, 12].map((offset) => view.getUint32(offset, true));
  const cells = layers * heads;
  const expected = HEADER_BYTES + 4 * cells + 2 * cells * queries;
  if (view.byteLength !== expected) throw new Error(`heads payload has ${view.byteLength} bytes, expected ${expected}`);
  const massScales = new Float32Array(cells);
  for (let cell = 0; cell < cells; cell++) massScales[cell] = view.getFloat32(HEADER_BYTES + 4 * cell, true);
  const start = view.byteOffset + HEADER_BYTES + 4 * cells;
  const mass = new Uint8Array(view.buffer, start, cells * queries);
  const entropy = new Uint8Array(view.buffer, start + cells * queries, cells * queries);
  return { layers, heads, queries, massScales, mass, entropy };
}
function headValues(heads, rows, measure) {
  const cells = heads.layers * heads.heads;
  const values = new Float32Array(cells);
  for (let cell = 0; cell < cells; cell++) {
    const offset = cell * heads.queries;
    let total = 0;
    let count = 0;
    if (measure === "mass") {
      for (const row of rows) total += heads.mass[offset + row];
      count = rows.length;
      values[cell] = count ? total / count / 255 * heads.massScales[cell] : 0;
    } else {
      for (const row of rows) {
        const entropy = heads.entropy[offset + row];
        if (entropy === NO_ENTROPY) continue;
        total += entropy;
        count += 1;
      }
      values[cell] = count ? 1 - total / count / 254 : NaN;
    }
  }
  return values;
}
var HeadOverview = class {
  /** @param {HeadOverviewActions} actions */
  constructor(actions) {
    this.element = element("div", "qvl-heads");
    this.title = element("div", "qvl-heads-title");
    this.canvas = element("canvas", "qvl-heads-grid", { role: "img", tabindex: "-1" });
    this.legend = element("div", "qvl-heads-legend");
    this.element.append(this.title, this.canvas, this.legend);
    this.shown = null;
    this.layers = 0;
    this.heads = 0;
    this.cell = MAX_CELL;
    this.scratch = makeScratch(1, 1);
    this.canvas.addEventListener("pointermove", (event) => this.describe(this.cellUnder(event)));
    this.canvas.addEventListener("click", (event) => {
      const cell = this.cellUnder(event);
      if (cell) actions.choose(cell.layer, cell.head);
    });
  }
  /**
   * Size the grid for `layers` x `heads` cells.
   * @param {number} layers
   * @param {number} heads
   */
  resize(layers, heads) {
    if (layers === this.layers && heads === this.heads) return;
    this.layers = layers;
    this.heads = heads;
    this.cell = Math.max(MIN_CELL, Math.min(MAX_CELL, Math.floor(GRID_CSS_SIZE / Math.max(layers, heads))));
    const ratio = Math.min(2, window.devicePixelRatio || 1);
    this.canvas.width = Math.round(heads * this.cell * ratio);
    this.canvas.height = Math.round(layers * this.cell * ratio);
    this.canvas.style.width = `${heads * this.cell}px`;
    this.canvas.style.height = `${layers * this.cell}px`;
    this.canvas.dataset.qvlLayers = String(layers);
    this.canvas.dataset.qvlHeads = String(heads);
    this.scratch = makeScratch(layers, heads);
  }
  /**
   * Paint the grid and outline the heads the menus' choice covers.
   * @param {HeadPaint} paint
   */
  paint(paint) {
    this.shown = paint;
    const { values, measure, colormap, layerIds, chosen } = paint;
    let max = measure === "focus" ? 1 : 0;
    for (const value of values) if (value > max) max = value;
    const context = context2d(this.canvas);
    const size = { width: this.canvas.width, height: this.canvas.height };
    drawMap(context, this.scratch, values, this.layers, this.heads, max, { colormap, smooth: false, ...size });
    this.outline(context, chosen);
    const what = measure === "mass" ? "each head's share of attention on the image" : "each head's focus (1 \u2212 spatial entropy of its map: 1 = one cell, 0 = spread evenly)";
    this.title.textContent = `Heads: ${what} \xB7 click a head to show it`;
    const top = measure === "mass" ? `brightest ${paint.format(max)}` : "scale 0 to 1";
    const first = layerIds[0] ?? 0;
    const last = layerIds[this.layers - 1] ?? this.layers - 1;
    this.legend.textContent = `layers ${first}\u2013${last} top to bottom \xB7 heads 0\u2013${this.heads - 1} left to right \xB7 ${top}`;
    this.canvas.setAttribute("aria-label", `${this.layers} \xD7 ${this.heads} grid of ${what}`);
  }
  /**
   * @param {CanvasRenderingContext2D} context
   * @param {{layers: number[], heads: number[]}} chosen
   */
  outline(context, chosen) {
    if (chosen.layers.length === this.layers && chosen.heads.length === this.heads) return;
    const width = this.canvas.width / this.heads;
    const height = this.canvas.height / this.layers;
    context.lineWidth = Math.max(1, width / 6);
    context.strokeStyle = "#00e5ff";
    const heads = new Set(chosen.heads);
    for (const layer of chosen.layers) {
      for (let head = 0; head < this.heads; head++) {
        if (!heads.has(head) || heads.has(head - 1)) continue;
        let end = head;
        while (heads.has(end + 1)) end += 1;
        const inset = context.lineWidth / 2;
        context.strokeRect(head * width + inset, layer * height + inset, (end - head + 1) * width - 2 * inset, height - 2 * inset);
      }
    }
  }
  /**
   * The grid cell under the pointer, or null.
   * @param {MouseEvent} event
   * @returns {{layer: number, head: number} | null}
   */
  cellUnder(event) {
    const bounds = this.canvas.getBoundingClientRect();
    const head = Math.floor((event.clientX - bounds.left) / bounds.width * this.heads);
    const layer = Math.floor((event.clientY - bounds.top) / bounds.height * this.layers);
    if (head < 0 || head >= this.heads || layer < 0 || layer >= this.layers) return null;
    return { layer, head };
  }
  /**
   * The hovered head's numbers, as the grid's tooltip.
   * @param {{layer: number, head: number} | null} cell
   */
  describe(cell) {
    const paint = this.shown;
    if (!cell || !paint) return;
    const value = paint.values[cell.layer * this.heads + cell.head];
    const name = `${layerLabel(cell.layer, paint.layerIds)}, ${headLabel(cell.head)}`;
    const words = paint.measure === "mass" ? `${paint.format(value)} of attention on the image` : Number.isNaN(value) ? "no attention on the image" : `focus ${number(value, 10)} (spatial entropy ${number(1 - value, 10)})`;
    this.canvas.title = `${name}: ${words} \xB7 click to show it`;
  }
};

// js/overlay.js
var CONTOUR_LEGEND = "lines enclose 25 % (thick), 50 % (thin) and 75 % (dashed) of the attention";
var LINE_RGBA = [17, 17, 17, 255];
var HALO_RGBA = [255, 255, 255, 191];
var HALO_WIDTH = 1;
var DASH = 6;
var CONTOUR_LINES = [
  { share: 0.25, radius: 2, dashed: false },
  { share: 0.5, radius: 1, dashed: false },
  { share: 0.75, radius: 1, dashed: true }
];
function overlayPixels(values, rows, cols, width, height, max, style) {
  const pixels = new Uint8ClampedArray(width * height * 4);
  if (style.style === "contour") contourPixels(pixels, values, rows, cols, width, height, style);
  else heatPixels(pixels, values, rows, cols, width, height, max, style);
  return pixels;
}
function drawOverlay(context, values, rows, cols, max, style) {
  const { width, height } = context.canvas;
  const image = context.createImageData(width, height);
  image.data.set(overlayPixels(values, rows, cols, width, height, max, style));
  context.putImageData(image, 0, 0);
}
function heatPixels(pixels, values, rows, cols, width, height, max, style) {
  const table = heatTable(style.colormap, style.opacity);
  const out = new Uint32Array(pixels.buffer, pixels.byteOffset, width * height);
  const line = new Float64Array(width);
  const across = axis(width, cols, style.smooth);
  const down = axis(height, rows, style.smooth);
  for (let y = 0; y < height; y++) {
    upsampledRow(line, values, cols, across, down, y, style.smooth);
    const offset = y * width;
    for (let x = 0; x < width; x++) out[offset + x] = table[colourIndex(line[x], max)];
  }
}
function heatTable(colormap, opacity) {
  const rgb = rgbTable(colormap);
  const bytes = new Uint8Array(256 * 4);
  for (let index = 0; index < 256; index++) {
    const alpha = Math.min(255, Math.max(0, Math.floor(opacity * index + 0.5)));
    bytes.set([rgb[3 * index], rgb[3 * index + 1], rgb[3 * index + 2], alpha], 4 * index);
  }
  return new Uint32Array(bytes.buffer);
}
function axis(extent, cells, smooth) {
  const low = new Int32Array(extent);
  const high = new Int32Array(extent);
  const fraction = new Float64Array(extent);
  for (let pixel = 0; pixel < extent; pixel++) {
    if (!smooth) {
      low[pixel] = Math.min(cells - 1, Math.floor((pixel + 0.5) * cells / extent));
      continue;
    }
    const source = Math.min(cells - 1, Math.max(0, (pixel + 0.5) * cells / extent - 0.5));
    low[pixel] = Math.floor(source);
    high[pixel] = Math.min(low[pixel] + 1, cells - 1);
    fraction[pixel] = source - low[pixel];
  }
  return { low, high, fraction };
}
function upsampledRow(line, values, cols, across, down, y, smooth) {
  if (!smooth) {
    const start = down.low[y] * cols;
    for (let x = 0; x < line.length; x++) line[x] = values[start + across.low[x]];
    return;
  }
  const upper = down.low[y] * cols;
  const lower = down.high[y] * cols;
  const fy = down.fraction[y];
  for (let x = 0; x < line.length; x++) {
    const x0 = across.low[x];
    const x1 = across.high[x];
    const fx = across.fraction[x];
    const top = values[upper + x0] * (1 - fx) + values[upper + x1] * fx;
    const bottom = values[lower + x0] * (1 - fx) + values[lower + x1] * fx;
    line[x] = top * (1 - fy) + bottom * fy;
  }
}
function contourLevels(values, shares) {
  const sorted = Array.from(values).filter((value) => value > 0).sort((a, b) => b - a);
  if (!sorted.length) return [];
  const running = new Float64Array(sorted.length);
  let sum = 0;
  sorted.forEach((value, index) => {
    sum += value;
    running[index] = sum;
  });
  return shares.map((share) => {
    const wanted = share * sum;
    let index = 0;
    while (index < sorted.length - 1 && running[index] < wanted) index++;
    return sorted[index];
  });
}
function contourPixels(pixels, values, rows, cols, width, height, style) {
  const levels = contourLevels(values, CONTOUR_LINES.map((line2) => line2.share));
  if (!levels.length) return;
  const field = new Float64Array(width * height);
  const line = new Float64Array(width);
  const across = axis(width, cols, style.smooth);
  const down = axis(height, rows, style.smooth);
  for (let y = 0; y < height; y++) {
    upsampledRow(line, values, cols, across, down, y, style.smooth);
    field.set(line, y * width);
  }
  const halo = Math.max(1, Math.round(HALO_WIDTH * style.scale));
  const dash = Math.max(2, Math.round(DASH * style.scale));
  const order = CONTOUR_LINES.map((spec, index) => ({ spec, level: levels[index] })).sort((a, b) => b.spec.share - a.spec.share);
  const lines = new Uint8Array(width * height);
  const integral = new Int32Array((width + 1) * (height + 1));
  const haloColour = packed(HALO_RGBA);
  const out = new Uint32Array(pixels.buffer, pixels.byteOffset, width * height);
  for (const { spec, level } of order) {
    insideSums(integral, field, level, width, height);
    const radius = Math.max(1, Math.round(spec.radius * style.scale));
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (!straddlesAt(integral, width, height, x, y, radius + halo)) continue;
        out[y * width + x] = haloColour;
        const kept = !spec.dashed || (Math.floor(y / dash) + Math.floor(x / dash)) % 2 === 0;
        if (kept && straddlesAt(integral, width, height, x, y, radius)) lines[y * width + x] = 1;
      }
    }
  }
  const lineColour = packed(LINE_RGBA);
  for (let index = 0; index < lines.length; index++) if (lines[index]) out[index] = lineColour;
}
function packed(rgba) {
  return new Uint32Array(Uint8Array.from(rgba).buffer)[0];
}
function insideSums(integral, field, level, width, height) {
  const stride = width + 1;
  for (let y = 0; y < height; y++) {
    let row = 0;
    for (let x = 0; x < width; x++) {
      row += field[y * width + x] >= level ? 1 : 0;
      integral[(y + 1) * stride + x + 1] = integral[y * stride + x + 1] + row;
    }
  }
}
function straddlesAt(integral, width, height, x, y, radius) {
  const stride = width + 1;
  const top = Math.max(0, y - radius);
  const bottom = Math.min(height, y + radius + 1);
  const left = Math.max(0, x - radius);
  const right = Math.min(width, x + radius + 1);
  const count = integral[bottom * stride + right] - integral[top * stride + right] - integral[bottom * stride + left] + integral[top * stride + left];
  return count > 0 && count < (bottom - top) * (right - left);
}

// js/boxes.js
var LABEL_SIZE = 12;
var TAG_COLOUR = "rgb(30, 30, 30)";
function boxesOn(boxes, image, frame) {
  return boxes.filter((box) => box.image === image && (box.group ?? frame) === frame);
}
function boxShare(values, box) {
  let total = 0;
  for (let index = 0; index < values.length; index++) total += values[index];
  if (!(total > 0)) return Number.NaN;
  let inside = 0;
  box.cells.forEach((cell, index) => {
    inside += values[cell] * box.fractions[index];
  });
  return inside / total;
}
function boxWords(name, inside, area) {
  const prefix = name ? `\u201C${name}\u201D: ` : "";
  if (Number.isNaN(inside)) return `${prefix}no attention on this picture (${percentWords(area)} of the area)`;
  return `${prefix}${percentWords(inside)} inside, ${percentWords(area)} of the area: ${ratioWords(inside / area)} uniform`;
}
function percentWords(share) {
  const percent2 = 100 * share;
  const tenths = Math.floor(percent2 * 10 + 0.5);
  if (tenths >= 10) return `${Math.floor(percent2 + 0.5)} %`;
  if (tenths >= 1) return `${Math.floor(tenths / 10)}.${tenths % 10} %`;
  return percent2 > 0 ? "< 0.1 %" : "0 %";
}
function ratioWords(ratio) {
  const tenths = Math.floor(ratio * 10 + 0.5);
  if (tenths >= 100) return `${Math.floor(ratio + 0.5)}\xD7`;
  return `${Math.floor(tenths / 10)}.${tenths % 10}\xD7`;
}
function drawBoxes(context, boxes, original, ratio) {
  const { width, height } = context.canvas;
  context.clearRect(0, 0, width, height);
  const across = width / original.width;
  const down = height / original.height;
  const line = Math.max(1, Math.round(ratio));
  for (const box of boxes) {
    const x = box.x0 * across - 1.5 * line;
    const y = box.y0 * down - 1.5 * line;
    const w = (box.x1 - box.x0) * across + 3 * line;
    const h = (box.y1 - box.y0) * down + 3 * line;
    context.lineWidth = 3 * line;
    context.strokeStyle = "black";
    context.strokeRect(x, y, w, h);
    context.lineWidth = line;
    context.strokeStyle = "white";
    context.strokeRect(x, y, w, h);
    if (box.name) drawTag(context, box.name, x - 1.5 * line, y - 1.5 * line, ratio);
  }
}
function drawTag(context, text, x, y, ratio) {
  const size = Math.round(LABEL_SIZE * ratio);
  const pad = Math.max(1, Math.round(2 * ratio));
  context.font = `${size}px sans-serif`;
  const width = context.measureText(text).width + 2 * pad;
  const height = size + 2 * pad;
  const top = y - height < 0 ? y + 3 * pad : y - height;
  context.fillStyle = TAG_COLOUR;
  context.fillRect(Math.max(0, x), top, width, height);
  context.fillStyle = "white";
  context.textBaseline = "top";
  context.fillText(text, Math.max(0, x) + pad, top + pad);
}

// js/filmstrip.js
var PLAY_INTERVAL_MS = 500;
var FilmStrip = class {
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
    this.timer = null;
    const count = medium.frames.length;
    this.element = element("div", "qvl-filmstrip", { role: "group", "aria-label": `Video ${index + 1}: temporal groups` });
    this.play = element("button", "qvl-play", { type: "button", "aria-pressed": "false" });
    this.play.textContent = "\u25B6 Play";
    this.play.addEventListener("click", () => this.timer === null ? this.start() : this.pause());
    this.scrubber = element("input", "qvl-scrubber", {
      type: "range",
      min: "0",
      max: String(count - 1),
      step: "1",
      "aria-label": `Video ${index + 1}: temporal group`
    });
    this.scrubber.addEventListener("input", () => actions.show(Number(this.scrubber.value)));
    this.label = element("span", "qvl-film-label");
    const controls = element("div", "qvl-film-controls");
    controls.append(this.play, this.scrubber, this.label);
    this.strip = element("div", "qvl-film-cells");
    this.cells = [];
    this.bars = [];
    for (let group = 0; group < count; group++) {
      const cell = element("button", "qvl-film-cell", {
        type: "button",
        "data-qvl-group": String(group),
        "aria-label": groupLabel(group, medium)
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
    this.element.dataset.qvlShown = String(group);
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
      bar.style.width = `${max > 0 ? 100 * value / max : 0}%`;
      bar.style.backgroundColor = cssColour(colormap, value, max);
      const cell = this.cells[group];
      cell.dataset.qvlMass = String(value);
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
    this.play.textContent = "\u23F8 Pause";
    this.play.setAttribute("aria-pressed", "true");
  }
  pause() {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.play.textContent = "\u25B6 Play";
    this.play.setAttribute("aria-pressed", "false");
  }
  destroy() {
    this.pause();
  }
};

// js/geometry.js
function cellAt(x, y, width, height, rows, cols) {
  const col = Math.min(cols - 1, Math.max(0, Math.floor(x / width * cols)));
  const row = Math.min(rows - 1, Math.max(0, Math.floor(y / height * rows)));
  return { row, col };
}

// js/state.js
function showsProducer(producing, part) {
  return producing === "all" || producing === true && part !== "prompt";
}
function frameColumns(medium, frame) {
  const count = medium.rows * medium.cols;
  return { start: medium.first_column + frame * count, count };
}
function parseChoice(value) {
  if (/^-?\d+$/.test(value)) return Number(value);
  if (/^\d+(,\d+)+$/.test(value)) return value.split(",").map(Number);
  return value;
}
function bytesOf(view) {
  return (
    /** @type {Uint8Array<ArrayBuffer>} */
    new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
  );
}
function hasSinks(sinks) {
  return sinks !== null && sinks.some((columns) => columns.length > 0);
}
function coveredIndices(choice, count) {
  if (typeof choice === "number") return [choice < 0 ? count + choice : choice];
  if (Array.isArray(choice)) return choice;
  return Array.from({ length: count }, (_, index) => index);
}

// js/panels.js
var MAX_PIXEL_RATIO = 2;
var MAX_FRAME_ASPECT = 2;
var MAX_CANVAS_SIDE = 8192;
var HEAT_CELL_PIXELS = 9;
var MAX_CONTOUR_SIDE = 1024;
var MediaPanels = class {
  /** @param {PanelActions} actions */
  constructor(actions) {
    this.actions = actions;
    this.element = element("div", "qvl-images");
    this.panels = [];
    this.urls = [];
    this.stopWatchingPixelRatio = null;
    this.media = [];
    this.group = 0;
  }
  /**
   * (Re)build every panel for `width` CSS pixels and the current pixel ratio, each video on temporal `group`.
   * @param {import("./state.js").Medium[]} media
   * @param {DataView[]} pictures
   * @param {number} width
   * @param {number} group
   */
  build(media, pictures, width, group) {
    this.release();
    this.media = media;
    this.group = group;
    this.element.replaceChildren();
    this.panels = media.map((medium, index) => this.buildPanel(medium, index, pictures, width, group));
    this.watchPixelRatio(() => {
      this.build(media, pictures, width, this.group);
      this.actions.resized();
    });
  }
  /**
   * @param {import("./state.js").Medium} medium
   * @param {number} index
   * @param {DataView[]} pictures
   * @param {number} width
   * @param {number} group
   * @returns {Panel}
   */
  buildPanel(medium, index, pictures, width, group) {
    const shown = shownFrame(medium, group);
    const urls = medium.frames.map((frame2) => this.pictureUrl(pictures[frame2.picture], frame2.mime));
    const figure = element("figure", "qvl-figure");
    const { cssWidth, cssHeight } = frameSize(width, medium);
    const frame = element("div", "qvl-frame");
    frame.style.width = `${cssWidth}px`;
    frame.style.aspectRatio = `${cssWidth} / ${cssHeight}`;
    const name = `${medium.kind === "video" ? "Video" : "Image"} ${index + 1}`;
    const image = element("img", "qvl-image", { alt: name, draggable: "false" });
    image.src = urls[shown];
    const ratio = Math.min(MAX_PIXEL_RATIO, window.devicePixelRatio || 1, MAX_CANVAS_SIDE / Math.max(cssWidth, cssHeight));
    const overlay = element("canvas", "qvl-overlay", { "data-qvl-image": String(index) });
    const marks = element("canvas", "qvl-marks");
    const boxes = element("canvas", "qvl-boxes", { "data-qvl-image": String(index) });
    const cursor = element("canvas", "qvl-cursor");
    for (const canvas of [marks, boxes, cursor]) {
      canvas.width = Math.round(cssWidth * ratio);
      canvas.height = Math.round(cssHeight * ratio);
    }
    frame.append(image, overlay, marks, boxes, cursor);
    const caption = element("figcaption", "qvl-figcaption");
    const boxLines = element("div", "qvl-box-shares", { "aria-live": "polite" });
    const strip = medium.kind === "video" ? new FilmStrip(medium, index, urls, shown, { show: (to) => this.actions.showGroup(to) }) : null;
    if (strip) strip.element.style.width = `${cssWidth}px`;
    figure.append(frame, ...strip ? [strip.element] : [], caption, boxLines);
    this.element.append(figure);
    frame.addEventListener("pointermove", (event) => this.actions.hoverCell(this.cellUnder(index, event)));
    frame.addEventListener("pointerleave", () => this.actions.hoverCell(null));
    const panel = { frame, image, caption, urls, strip, overlay, marks, boxes, cursor, boxLines, ratio, cssWidth, cssHeight, shown };
    this.describe(panel, index);
    return panel;
  }
  /**
   * A panel's caption: the medium, for a video the group on screen, its token grid and size.
   * @param {Panel} panel
   * @param {number} index
   */
  describe(panel, index) {
    const medium = this.media[index];
    const grid = `${medium.rows} \xD7 ${medium.cols} tokens`;
    const size = `${medium.width} \xD7 ${medium.height} px`;
    panel.caption.textContent = medium.kind === "video" ? `Video ${index + 1} \xB7 ${groupLabel(panel.shown, medium)} \xB7 ${grid} per group \xB7 ${size}` : `Image ${index + 1} \xB7 ${grid} \xB7 ${size}`;
  }
  /**
   * Show temporal `group` in every video (one with fewer groups shows its last): its picture, strip and caption.
   * The caller repaints the overlays (their columns follow `shown`). Returns whether any panel changed.
   * @param {number} group
   */
  show(group) {
    this.group = group;
    let changed = false;
    this.panels.forEach((panel, index) => {
      const shown = shownFrame(this.media[index], group);
      if (shown === panel.shown) return;
      panel.shown = shown;
      panel.image.src = panel.urls[shown];
      panel.strip?.mark(shown);
      this.describe(panel, index);
      changed = true;
    });
    return changed;
  }
  /**
   * Each video's film strip bars: `values[i]` is medium i's per-group values (null for an image).
   * @param {(Float32Array | null)[]} values
   * @param {Omit<import("./filmstrip.js").StripPaint, "values">} style
   */
  paintStrips(values, style) {
    this.panels.forEach((panel, index) => {
      const shares = values[index];
      if (panel.strip && shares) panel.strip.paint({ ...style, values: shares });
    });
  }
  /**
   * @param {number} index
   * @param {PointerEvent} event
   * @returns {Cell}
   */
  cellUnder(index, event) {
    const medium = this.media[index];
    const bounds = this.panels[index].frame.getBoundingClientRect();
    const x = event.clientX - bounds.left;
    const y = event.clientY - bounds.top;
    return { medium: index, ...cellAt(x, y, bounds.width, bounds.height, medium.rows, medium.cols) };
  }
  /**
   * @param {DataView} view
   * @param {string} mime
   */
  pictureUrl(view, mime) {
    const url = URL.createObjectURL(new Blob([bytesOf(view)], { type: mime }));
    this.urls.push(url);
    return url;
  }
  /**
   * Canvases are sized for the screen's pixel ratio: when it changes (browser zoom, another screen), rebuild them.
   * @param {() => void} changed
   */
  watchPixelRatio(changed) {
    this.stopWatchingPixelRatio?.();
    const query = window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
    query.addEventListener("change", changed, { once: true });
    this.stopWatchingPixelRatio = () => query.removeEventListener("change", changed);
  }
  /**
   * Paint each panel's map: `values[i]` is medium i's shown frame, `rows * cols` values on a scale from 0 to `max`,
   * drawn by the overlay rule (`overlay.js`).
   * @param {Float32Array[]} values
   * @param {number} max
   * @param {Omit<import("./overlay.js").OverlayStyle, "scale">} style
   */
  paint(values, max, style) {
    this.panels.forEach((panel, index) => {
      const medium = this.media[index];
      const { width, height } = overlaySize(panel, medium, style.style);
      if (panel.overlay.width !== width || panel.overlay.height !== height) Object.assign(panel.overlay, { width, height });
      panel.overlay.style.imageRendering = style.style === "heat" && !style.smooth ? "pixelated" : "auto";
      const scale = width / panel.cssWidth;
      drawOverlay(context2d(panel.overlay), values[index], medium.rows, medium.cols, max, { ...style, scale });
    });
  }
  /**
   * Outline each medium's boxes on show (`boxes` of every medium; each box names its own, and a video's box with a
   * group is on that group's frame only).
   * @param {import("./boxes.js").BoxView[]} boxes
   */
  drawBoxes(boxes) {
    this.panels.forEach((panel, index) => {
      const mine = boxesOn(boxes, index, panel.shown);
      drawBoxes(context2d(panel.boxes), mine, this.media[index], panel.ratio);
    });
  }
  /**
   * Under each picture, the share of its shown map inside each of its boxes on show, a line each.
   * @param {Float32Array[]} values  each medium's shown frame, as painted
   * @param {import("./boxes.js").BoxView[]} boxes
   */
  describeBoxes(values, boxes) {
    this.panels.forEach((panel, index) => {
      const lines = boxesOn(boxes, index, panel.shown).map((box) => {
        const line = element("div", "qvl-box-share");
        line.textContent = boxWords(box.name, boxShare(values[index], box), box.area);
        return line;
      });
      panel.boxLines.replaceChildren(...lines);
    });
  }
  /**
   * Outline the hovered cell (none for null).
   * @param {Cell | null} cell
   */
  drawCursor(cell) {
    this.panels.forEach((panel, index) => {
      const context = context2d(panel.cursor);
      context.clearRect(0, 0, panel.cursor.width, panel.cursor.height);
      if (!cell || cell.medium !== index) return;
      const medium = this.media[index];
      const cellWidth = panel.cursor.width / medium.cols;
      const cellHeight = panel.cursor.height / medium.rows;
      context.lineWidth = Math.max(1, panel.cursor.width / 400);
      context.strokeStyle = "white";
      context.strokeRect(cell.col * cellWidth, cell.row * cellHeight, cellWidth, cellHeight);
    });
  }
  /**
   * Outline marked cells (visual sinks): `cells[i]` are medium i's, as indices into its shown frame's grid.
   * @param {number[][]} cells
   */
  drawMarks(cells) {
    this.panels.forEach((panel, index) => {
      const context = context2d(panel.marks);
      context.clearRect(0, 0, panel.marks.width, panel.marks.height);
      const medium = this.media[index];
      const cellWidth = panel.marks.width / medium.cols;
      const cellHeight = panel.marks.height / medium.rows;
      context.lineWidth = Math.max(1.5, panel.marks.width / 300);
      context.strokeStyle = "#00e5ff";
      context.setLineDash([3 * context.lineWidth, 2 * context.lineWidth]);
      const inset = context.lineWidth / 2;
      for (const cell of cells[index] ?? []) {
        const row = Math.floor(cell / medium.cols);
        const col = cell % medium.cols;
        context.strokeRect(col * cellWidth + inset, row * cellHeight + inset, cellWidth - 2 * inset, cellHeight - 2 * inset);
      }
    });
  }
  release() {
    for (const panel of this.panels) panel.strip?.destroy();
    this.stopWatchingPixelRatio?.();
    this.stopWatchingPixelRatio = null;
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls = [];
  }
};
function frameSize(width, medium) {
  const aspect = medium.height / medium.width;
  if (aspect <= MAX_FRAME_ASPECT) return { cssWidth: width, cssHeight: Math.round(width * aspect) };
  const cssHeight = Math.round(width * MAX_FRAME_ASPECT);
  return { cssWidth: Math.max(1, Math.round(cssHeight / aspect)), cssHeight };
}
function overlaySize(panel, medium, style) {
  const width = Math.round(panel.cssWidth * panel.ratio);
  const height = Math.round(panel.cssHeight * panel.ratio);
  if (style === "heat") {
    const across = Math.min(width, medium.cols * HEAT_CELL_PIXELS);
    return { width: Math.max(1, across), height: Math.max(1, Math.min(height, medium.rows * HEAT_CELL_PIXELS)) };
  }
  const shrink = Math.min(1, MAX_CONTOUR_SIDE / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * shrink)), height: Math.max(1, Math.round(height * shrink)) };
}
function shownFrame(medium, group) {
  return Math.max(0, Math.min(group, medium.frames.length - 1));
}

// js/payload.js
var PAYLOAD_VERSION = 1;
var HEADER_BYTES2 = 12;
function decodeMaps(view) {
  if (view.byteLength < HEADER_BYTES2) {
    throw new Error(`attention payload too short: ${view.byteLength} bytes`);
  }
  const version = view.getUint32(0, true);
  if (version !== PAYLOAD_VERSION) {
    throw new Error(`attention payload version ${version}, expected ${PAYLOAD_VERSION}: update qvl_widget`);
  }
  const queries = view.getUint32(4, true);
  const columns = view.getUint32(8, true);
  const expected = HEADER_BYTES2 + 8 * queries + queries * columns;
  if (view.byteLength !== expected) {
    throw new Error(`attention payload has ${view.byteLength} bytes, expected ${expected}`);
  }
  const scales = new Float32Array(queries);
  const mass = new Float32Array(queries);
  for (let row = 0; row < queries; row++) {
    scales[row] = view.getFloat32(HEADER_BYTES2 + 4 * row, true);
    mass[row] = view.getFloat32(HEADER_BYTES2 + 4 * (queries + row), true);
  }
  const values = new Uint8Array(view.buffer, view.byteOffset + HEADER_BYTES2 + 8 * queries, queries * columns);
  return { queries, columns, scales, mass, values };
}
function valueAt(maps, row, column) {
  return maps.values[row * maps.columns + column] / 255 * maps.scales[row];
}
function meanOfRows(maps, rows, start, count) {
  const mean = new Float32Array(count);
  if (rows.length === 0) return mean;
  for (const row of rows) {
    const factor = maps.scales[row] / 255 / rows.length;
    const offset = row * maps.columns + start;
    for (let index = 0; index < count; index++) {
      mean[index] += maps.values[offset + index] * factor;
    }
  }
  return mean;
}
function meanMass(maps, rows) {
  if (rows.length === 0) return 0;
  let total = 0;
  for (const row of rows) total += maps.mass[row];
  return total / rows.length;
}
function blockSums(maps, rows, start, count, blocks) {
  const sums = new Float32Array(blocks);
  for (const row of rows) {
    const factor = maps.scales[row] / 255 / rows.length;
    let offset = row * maps.columns + start;
    for (let block = 0; block < blocks; block++) {
      let total = 0;
      for (let index = 0; index < count; index++) total += maps.values[offset + index];
      sums[block] += total * factor;
      offset += count;
    }
  }
  return sums;
}

// js/save.js
var FULL_PICTURES_TIMEOUT_MS = 6e4;
var LINE_VIEW_WIDTH = 512;
async function savePngs(model, composites, max, style, boxes) {
  const pictures = await fullPictures(model);
  for (const [index, { medium, frame, values, name }] of composites.entries()) {
    const own = boxesOn(boxes, index, frame);
    const blob = await compositePng(pictures[medium.frames[frame].picture], medium, values, max, style, own);
    download(blob, name);
  }
}
function fullPictures(model) {
  const count = model.get("pictures").length;
  const ready = () => model.get("full_pictures").length === count;
  if (ready()) return Promise.resolve(model.get("full_pictures"));
  return new Promise((resolve, reject) => {
    const done = () => {
      if (!ready()) return;
      clearTimeout(timer);
      model.off("change:full_pictures", done);
      resolve(model.get("full_pictures"));
    };
    const timer = setTimeout(() => {
      model.off("change:full_pictures", done);
      reject(new Error("the kernel did not send the full-resolution image; is it still running?"));
    }, FULL_PICTURES_TIMEOUT_MS);
    model.on("change:full_pictures", done);
    model.set("want_full_pictures", true);
    model.save_changes();
  });
}
async function compositePng(picture, medium, values, max, style, boxes) {
  const bytes = bytesOf(picture);
  const type = bytes[0] === 137 ? "image/png" : "image/jpeg";
  const bitmap = await createImageBitmap(new Blob([bytes], { type }));
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = context2d(canvas);
  context.drawImage(bitmap, 0, 0);
  const scale = Math.max(1, Math.max(bitmap.width, bitmap.height) / LINE_VIEW_WIDTH);
  for (const draw of [
    (layer) => drawOverlay(layer, values, medium.rows, medium.cols, max, { ...style, scale }),
    (layer) => drawBoxes(layer, boxes, medium, scale)
  ]) {
    const layer = document.createElement("canvas");
    layer.width = bitmap.width;
    layer.height = bitmap.height;
    draw(context2d(layer));
    context.drawImage(layer, 0, 0);
  }
  return new Promise(
    (resolve, reject) => canvas.toBlob((blob) => blob ? resolve(blob) : reject(new Error("the browser could not encode a PNG")), "image/png")
  );
}
function download(blob, name) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1e4);
}

// js/tokens.js
var TokenStrips = class {
  /**
   * @param {import("./state.js").TokenGroup[]} groups
   * @param {import("./state.js").TokenInfo[]} tokens
   * @param {StripActions} actions
   */
  constructor(groups, tokens, actions) {
    this.tokens = tokens;
    this.actions = actions;
    this.element = element("div", "qvl-strips");
    this.chips = tokens.map((token, index) => {
      const chip = element("span", token.special ? "qvl-token qvl-special-token" : "qvl-token", {
        "data-qvl-token": String(index),
        role: "option",
        tabindex: "-1"
      });
      chip.textContent = chipText(token.text);
      return chip;
    });
    const labelled = groups.length > 1;
    for (const [groupIndex, group] of groups.entries()) {
      const strip = element("div", "qvl-tokens", {
        role: "listbox",
        "aria-multiselectable": "true",
        "aria-label": `${group.label} tokens: hover or focus one to see where it looks; click to pin, shift-click to add`,
        "data-qvl-group": group.name
      });
      strip.append(...this.chips.filter((_, index) => tokens[index].group === groupIndex));
      if (!labelled) {
        this.element.append(strip);
        continue;
      }
      const wrapper = element("div", "qvl-strip");
      const label = element("div", "qvl-strip-label");
      label.textContent = group.label;
      if (group.note) {
        const note = element("span", "qvl-strip-note");
        note.textContent = ` \xB7 ${group.note}`;
        label.append(note);
      }
      wrapper.append(label, strip);
      this.element.append(wrapper);
    }
    this.listen();
  }
  listen() {
    this.element.addEventListener("pointerover", (event) => {
      const index = tokenIndex(event.target);
      if (index !== null) this.actions.hover(index);
    });
    this.element.addEventListener("pointerleave", () => this.actions.hover(null));
    this.element.addEventListener("focusin", (event) => this.actions.hover(tokenIndex(event.target)));
    this.element.addEventListener("focusout", () => this.actions.hover(null));
    this.element.addEventListener("click", (event) => {
      const index = tokenIndex(event.target);
      if (index !== null) this.actions.pin(index, event.shiftKey || event.ctrlKey || event.metaKey);
    });
    this.element.addEventListener("keydown", (event) => this.onKey(event));
  }
  /**
   * Show the pins; hide template tokens unless `showSpecial` (a pinned one stays: what the map shows is on screen).
   * @param {number[]} selected
   * @param {boolean} showSpecial
   */
  sync(selected, showSpecial) {
    const pinned2 = new Set(selected);
    const show = showSpecial || !this.hasOwnText();
    this.chips.forEach((chip, index) => {
      chip.hidden = this.tokens[index].special && !show && !pinned2.has(index);
      chip.classList.toggle("qvl-pinned", pinned2.has(index));
      chip.setAttribute("aria-selected", String(pinned2.has(index)));
    });
    this.keepTabStop();
  }
  hasOwnText() {
    return this.tokens.some((token) => !token.special);
  }
  visibleChips() {
    return this.chips.filter((chip) => !chip.hidden);
  }
  /** @param {number} index */
  isVisible(index) {
    return !this.chips[index].hidden;
  }
  /** Roving tabindex: one visible chip is in the tab order, the one that was, else the first visible one. */
  keepTabStop() {
    const visible = this.visibleChips();
    const stop = visible.find((chip) => chip.tabIndex === 0) ?? visible[0];
    for (const chip of this.chips) chip.tabIndex = chip === stop ? 0 : -1;
  }
  /**
   * Tint every chip by its weight (its image share, or its attention to a hovered cell), on the visible chips'
   * scale; the title says what the weight is.
   * @param {ArrayLike<number>} weights
   * @param {string} colormap
   * @param {(token: number) => string} what  what a token's weight is, e.g. "attention on the image"
   * @param {(weight: number) => string} [format]  a weight's words (default: a percentage)
   */
  tint(weights, colormap, what, format = percent) {
    let max = 0;
    this.chips.forEach((chip, index) => {
      if (!chip.hidden && weights[index] > max) max = weights[index];
    });
    this.chips.forEach((chip, index) => {
      const share = max > 0 ? weights[index] / max : 0;
      chip.style.backgroundColor = cssColour(colormap, weights[index], max, 0.15 + 0.7 * share);
      chip.style.color = share > 0.55 && colormap !== "gray" ? "#111" : "";
      chip.title = `${format(weights[index])} ${what(index)}`;
    });
  }
  /** @param {KeyboardEvent} event */
  onKey(event) {
    const chips = this.visibleChips();
    const current = tokenIndex(event.target);
    const position = chips.findIndex((chip) => Number(chip.dataset.qvlToken) === current);
    const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
    let target = null;
    if (event.key in moves) target = chips[Math.min(chips.length - 1, Math.max(0, position + moves[event.key]))];
    else if (event.key === "Home") target = chips[0];
    else if (event.key === "End") target = chips[chips.length - 1];
    else if ((event.key === "Enter" || event.key === " ") && current !== null) {
      this.actions.pin(current, event.shiftKey || event.ctrlKey || event.metaKey);
    } else if (event.key === "Escape") this.actions.unpinAll();
    else return;
    event.preventDefault();
    if (target) {
      for (const chip of chips) chip.tabIndex = -1;
      target.tabIndex = 0;
      target.focus();
    }
  }
};
function tokenIndex(target) {
  const chip = target instanceof Element ? target.closest("[data-qvl-token]") : null;
  return chip ? Number(chip.getAttribute("data-qvl-token")) : null;
}
function pinned(selected, index, add) {
  if (add) return selected.includes(index) ? selected.filter((i) => i !== index) : [...selected, index];
  return selected.length === 1 && selected[0] === index ? [] : [index];
}

// js/toolbar.js
var UNITS = [
  ["probability", "probability"],
  ["uniform", "\xD7 uniform"]
];
var STYLES = [
  ["heat", "heat"],
  ["contour", "contour lines"]
];
var HEAD_OVERVIEWS = [
  ["off", "off"],
  ["mass", "image share"],
  ["focus", "focus"]
];
var PRODUCING = [
  ["true", "the model's words"],
  ["all", "every token"],
  ["false", "off"]
];
var HELP = {
  layer: "A layer is one of the model's stacked processing steps; each reads all earlier tokens",
  head: "A head is one of the parallel attention patterns inside a layer; mean / max combine them",
  unit: "probability: each cell's share of the token's attention; \xD7 uniform: that share times the number of image tokens (1 = attention spread evenly), comparable across image sizes",
  drop: "Visual sinks: image tokens with a massive activation that draw attention whatever the question (See What You Are Told, ICLR 2025). Hidden: set to 0 in every head, the rest scaled to keep each token's share on the image",
  mark: "Outline the visual sinks of the chosen layers on the pictures",
  heads: "A layers \xD7 heads grid for the tokens on show: each head's share of attention on the image, or its focus (1 \u2212 the spatial entropy of its map); click a head to show it",
  colormap: "The colour scale of the maps and of the bar under the pictures: from no attention to the top of the scale",
  style: "heat: the map in colour, transparent where attention is low; contour lines: lines around the smallest regions holding 25 %, 50 % and 75 % of the attention, over the untouched picture (they print in greyscale)",
  opacity: "How much the map covers the picture where attention is at the top of the scale (it fades to transparent where attention is low): 0 shows the picture alone",
  smooth: "On: the map is smoothed between cells; off: one block per image token, the grid the model reads",
  shared: "On: every token's map on one colour scale (the largest value of any token), so tokens compare; off: each map on its own scale, from 0 to its largest value",
  special: "Show the tokens the chat template adds around the text (such as <|im_start|>); hidden by default",
  producing: "Which row a token shows. The model's words: a word the model wrote (its thinking, its answer) shows the step that wrote it, where it looked while choosing that word; prompt words show their own row. Every token: prompt words too show the step that predicted them (the token before). Off: every token its own row. The caption says which row is shown",
  save: "Save each picture with its map laid over it as a PNG file, at the picture's own size"
};
var Toolbar = class {
  /**
   * @param {ToolbarActions} actions
   * @param {{generated: boolean, baseline: string | null, sinks: boolean}} options  `generated`: the result has tokens
   *   the model wrote (its thinking or its answer): offer the producing switch; `baseline`: the baseline's text,
   *   where there is one (offer relative maps); `sinks`: some layer has visual sinks (offer to hide or mark them)
   */
  constructor(actions, options) {
    this.element = element("div", "qvl-toolbar", { role: "toolbar", "aria-label": "Attention map controls" });
    this.layerSelect = this.addSelect("Layer", "qvl-layer", "Decoder layer, or the mean / max over layers", HELP.layer);
    this.headSelect = this.addSelect("Head", "qvl-head", "Attention head, or the mean / max over heads", HELP.head);
    this.unitSelect = this.addSelect("Unit", "qvl-unit", "Unit of the maps", HELP.unit);
    for (const [value, words] of UNITS) this.unitSelect.append(new Option(words, value));
    this.relativeInput = this.addInput(
      "\xF7 baseline",
      "qvl-relative",
      "checkbox",
      "Divide by the baseline prompt's map",
      `Each map divided by the map of the baseline prompt \u201C${options.baseline ?? ""}\u201D at the same layers and heads (MLLMs Know Where to Look, ICLR 2025): above 1 where this prompt looks more than the baseline`
    );
    this.hide(this.relativeInput, options.baseline === null);
    this.dropSinksInput = this.addCheckbox("Hide sinks", "qvl-drop-sinks", "Leave the visual sinks out", HELP.drop);
    this.markSinksInput = this.addCheckbox("Mark sinks", "qvl-mark-sinks", "Outline the visual sinks", HELP.mark);
    this.hide(this.dropSinksInput, !options.sinks);
    this.hide(this.markSinksInput, !options.sinks);
    this.headsSelect = this.addSelect("Heads", "qvl-head-overview", "Head overview", HELP.heads);
    for (const [value, words] of HEAD_OVERVIEWS) this.headsSelect.append(new Option(words, value));
    this.colormapSelect = this.addSelect("Colours", "qvl-colormap", "Colour map", HELP.colormap);
    for (const name of COLORMAP_NAMES) this.colormapSelect.append(new Option(name, name));
    this.styleSelect = this.addSelect("Style", "qvl-style", "Overlay style", HELP.style);
    for (const [value, words] of STYLES) this.styleSelect.append(new Option(words, value));
    this.opacityInput = this.addInput("Opacity", "qvl-opacity", "range", "Overlay opacity", HELP.opacity);
    Object.assign(this.opacityInput, { min: "0", max: "1", step: "0.05" });
    this.smoothInput = this.addCheckbox("Smooth", "qvl-smooth", "Smooth (on) or blocky (off) cells", HELP.smooth);
    this.sharedInput = this.addCheckbox("Shared scale", "qvl-shared", "One colour scale for all tokens", HELP.shared);
    this.specialInput = this.addCheckbox("Template tokens", "qvl-special", "Show chat-template tokens", HELP.special);
    this.producingSelect = this.addSelect(
      "Producing step",
      "qvl-producing",
      "Which row a token shows: the step that produced it, or its own",
      HELP.producing
    );
    for (const [value, words] of PRODUCING) this.producingSelect.append(new Option(words, value));
    this.hide(this.producingSelect, !options.generated);
    this.saveButton = element("button", "qvl-save", {
      type: "button",
      "aria-label": "Save image with overlay as PNG",
      title: HELP.save
    });
    this.saveButton.textContent = "Save PNG";
    this.element.append(this.saveButton);
    this.layerSelect.addEventListener("change", () => actions.chooseLayer(parseChoice(this.layerSelect.value)));
    this.headSelect.addEventListener("change", () => actions.chooseHead(parseChoice(this.headSelect.value)));
    this.colormapSelect.addEventListener("change", () => actions.set("colormap", this.colormapSelect.value));
    this.styleSelect.addEventListener("change", () => actions.set("overlay_style", this.styleSelect.value));
    this.opacityInput.addEventListener("input", () => actions.set("opacity", Number(this.opacityInput.value)));
    this.smoothInput.addEventListener("change", () => actions.set("smooth", this.smoothInput.checked));
    this.sharedInput.addEventListener("change", () => actions.set("shared_scale", this.sharedInput.checked));
    this.specialInput.addEventListener("change", () => actions.set("show_special", this.specialInput.checked));
    this.producingSelect.addEventListener(
      "change",
      () => actions.set("producing", producingOf(this.producingSelect.value))
    );
    this.unitSelect.addEventListener("change", () => actions.set("unit", this.unitSelect.value));
    this.relativeInput.addEventListener("change", () => actions.set("relative", this.relativeInput.checked));
    this.dropSinksInput.addEventListener("change", () => actions.set("drop_sinks", this.dropSinksInput.checked));
    this.markSinksInput.addEventListener("change", () => actions.set("mark_sinks", this.markSinksInput.checked));
    this.headsSelect.addEventListener("change", () => actions.set("head_overview", this.headsSelect.value));
    this.saveButton.addEventListener("click", () => actions.save());
  }
  /**
   * Show the state's choices.
   * @param {import("./state.js").Model} model
   */
  sync(model) {
    const available = model.get("available");
    const layer = model.get("layer");
    const layerIds = model.get("layer_ids");
    const reduce = model.get("reduce");
    fillOptions(this.layerSelect, available.layers, (choice) => layerLabel(choice, layerIds, reduce), layer);
    const heads = available.heads[String(layer)] ?? [];
    fillOptions(this.headSelect, heads, (choice) => headLabel(choice, reduce), model.get("head"));
    this.colormapSelect.value = model.get("colormap");
    this.styleSelect.value = model.get("overlay_style");
    this.opacityInput.value = String(model.get("opacity"));
    this.smoothInput.checked = model.get("smooth");
    this.sharedInput.checked = model.get("shared_scale");
    this.specialInput.checked = model.get("show_special");
    this.producingSelect.value = String(model.get("producing"));
    this.unitSelect.value = model.get("unit");
    this.unitSelect.disabled = model.get("relative");
    this.relativeInput.checked = model.get("relative");
    this.dropSinksInput.checked = model.get("drop_sinks");
    this.markSinksInput.checked = model.get("mark_sinks");
    this.headsSelect.value = model.get("head_overview");
  }
  /**
   * Hide a control with its label (a switch the result has nothing for).
   * @param {HTMLElement} control
   * @param {boolean} hidden
   */
  hide(control, hidden) {
    control.parentElement.hidden = hidden;
  }
  /**
   * @param {string} label  its visible name
   * @param {string} className
   * @param {string} description  its name for a screen reader
   * @param {string} help  what it does, in its tooltip
   */
  addSelect(label, className, description, help) {
    const select = element("select", className, { "aria-label": description, title: help });
    this.addControl(label, select, false, help);
    return select;
  }
  /**
   * @param {string} label  its visible name
   * @param {string} className
   * @param {string} description  its name for a screen reader
   * @param {string} help  what it does, in its tooltip
   */
  addCheckbox(label, className, description, help) {
    return this.addInput(label, className, "checkbox", description, help);
  }
  /**
   * @param {string} label  its visible name
   * @param {string} className
   * @param {string} type
   * @param {string} description  its name for a screen reader
   * @param {string} help  what it does, in its tooltip
   */
  addInput(label, className, type, description, help) {
    const input = element("input", className, { type, "aria-label": description, title: help });
    this.addControl(label, input, type === "checkbox", help);
    return input;
  }
  /**
   * A control with its visible name, both showing `help` as a tooltip on hover.
   * @param {string} label
   * @param {HTMLElement} control
   * @param {boolean} labelAfter  checkboxes come before their label
   * @param {string} help
   */
  addControl(label, control, labelAfter, help) {
    const wrapper = element("label", "qvl-control", { title: help });
    const text = element("span", "qvl-control-label");
    text.textContent = label;
    if (labelAfter) wrapper.append(control, text);
    else wrapper.append(text, control);
    this.element.append(wrapper);
  }
};
function producingOf(value) {
  return value === "all" ? "all" : value === "true";
}
function fillOptions(select, choices, label, value) {
  const wanted = choices.map(String).join("|");
  if (select.dataset.choices !== wanted) {
    select.replaceChildren(...choices.map((choice) => new Option(label(choice), String(choice))));
    select.dataset.choices = wanted;
  }
  select.value = String(value);
}

// js/view.js
var AttentionView = class {
  /**
   * @param {Model} model
   * @param {HTMLElement} el
   */
  constructor(model, el) {
    this.model = model;
    this.hovered = null;
    this.hoveredCell = null;
    this.maps = null;
    this.heads = null;
    this.frames = 0;
    this.listeners = [];
    this.root = element("div", "qvl-widget");
    const generated = model.get("groups").some((group) => group.name !== "prompt");
    this.generated = generated;
    this.toolbar = new Toolbar(
      {
        chooseLayer: (layer) => this.chooseLayer(layer),
        chooseHead: (head) => this.setState("head", head),
        set: (name, value) => this.setState(name, value),
        save: () => this.savePng()
      },
      { generated, baseline: model.get("baseline_prompt"), sinks: hasSinks(model.get("sinks")) }
    );
    this.strips = new TokenStrips(model.get("groups"), model.get("tokens"), {
      hover: (index) => this.hoverToken(index),
      pin: (index, add) => this.setState("selected", pinned(model.get("selected"), index, add)),
      unpinAll: () => this.setState("selected", [])
    });
    this.caption = element("div", "qvl-caption", {
      "aria-live": "polite",
      // Said once, where a newcomer points: what the caption's percentage is.
      title: "The map shows how each image cell shares the token's attention; '% of attention on the image' is the share of the token's attention that goes to the image at all (the rest goes to text)."
    });
    this.panels = new MediaPanels({
      hoverCell: (cell) => this.hoverCell(cell),
      resized: () => this.rebuilt(),
      showGroup: (group) => this.setState("group", group)
    });
    this.colorbar = new ColourBar();
    this.legend = element("div", "qvl-legend");
    this.overview = new HeadOverview({ choose: (layer, head) => this.chooseHead(layer, head) });
    this.status = element("div", "qvl-status", { role: "status" });
    this.root.append(
      this.toolbar.element,
      this.strips.element,
      this.caption,
      this.panels.element,
      this.colorbar.element,
      this.legend,
      this.overview.element,
      this.status
    );
    el.append(this.root);
    this.buildPanels();
    this.syncControls();
    this.listen();
    this.updateHeads();
    this.updateMaps();
  }
  /**
   * @template {keyof import("./state.js").Traits} K
   * @param {K} name
   * @param {import("./state.js").Traits[K]} value
   */
  setState(name, value) {
    this.model.set(name, value);
    this.model.save_changes();
  }
  listen() {
    const on = (event, callback) => {
      this.model.on(event, callback);
      this.listeners.push([event, callback]);
    };
    on("change:maps_payload", () => this.updateMaps());
    on("change:heads_payload", () => this.updateHeads());
    for (const name of ["layer", "head", "available", "relative", "drop_sinks"]) {
      on(`change:${name}`, () => this.syncControls());
    }
    const repainting = ["selected", "producing", "unit", "mark_sinks", "head_overview", "colormap", "smooth"];
    repainting.push("opacity", "overlay_style", "boxes");
    for (const name of [...repainting, "shared_scale", "show_special"]) {
      on(`change:${name}`, () => {
        this.syncControls();
        this.repaint();
      });
    }
    on("change:width", () => this.rebuildPanels());
    on("change:group", () => this.showGroup());
  }
  // ----- state -> screen ------------------------------------------------------------------------------------
  buildPanels() {
    this.panels.build(this.model.get("media"), this.model.get("pictures"), this.model.get("width"), this.model.get("group"));
  }
  /** Rebuild the pictures at a new `width` (their sizes, canvases and listeners depend on it). */
  rebuildPanels() {
    this.buildPanels();
    this.rebuilt();
  }
  /** Show the state's temporal group in every video: its picture, and the overlays repainted with its columns. */
  showGroup() {
    if (this.panels.show(this.model.get("group"))) this.repaint();
  }
  rebuilt() {
    this.hoveredCell = null;
    this.syncControls();
    this.repaint();
  }
  syncControls() {
    this.toolbar.sync(this.model);
    this.strips.sync(this.model.get("selected"), this.model.get("show_special"));
  }
  updateHeads() {
    const payload = this.model.get("heads_payload");
    try {
      this.heads = payload && payload.byteLength ? decodeHeads(payload) : null;
    } catch (error) {
      this.heads = null;
      this.status.textContent = String(error);
    }
    if (this.heads) this.overview.resize(this.heads.layers, this.heads.heads);
    this.paintHeads();
  }
  updateMaps() {
    const payload = this.model.get("maps_payload");
    try {
      this.maps = payload && payload.byteLength ? decodeMaps(payload) : null;
      this.status.textContent = "";
    } catch (error) {
      this.maps = null;
      this.status.textContent = String(error);
    }
    this.repaint();
  }
  /** The tokens shown: the hovered token, else the pinned ones, else the prompt's own tokens (or all). */
  activeTokens() {
    if (this.hovered !== null) return [this.hovered];
    const selected = this.model.get("selected");
    if (selected.length) return selected;
    const tokens = this.model.get("tokens");
    const own = tokens.flatMap((token, index) => !token.special && this.partOf(index) === "prompt" ? [index] : []);
    return own.length ? own : tokens.map((_, index) => index);
  }
  /** Whether a token is hovered or pinned (else the view shows the summary of the prompt's own rows). */
  tokensChosen() {
    return this.hovered !== null || this.model.get("selected").length > 0;
  }
  /** The maps' rows on show: the chosen tokens' rows (`rowOf`), or the summary's own rows. */
  activeRows() {
    const shown = this.activeTokens();
    return this.tokensChosen() ? this.rowsOf(shown) : shown;
  }
  /**
   * The maps' row a token shows: its own, or the row of the step that produced it where `producing` applies to it
   * (`showsProducer`; null: none captured).
   * @param {number} token
   * @returns {number | null}
   */
  rowOf(token) {
    return this.showsProducer(token) ? this.model.get("tokens")[token].producer : token;
  }
  /**
   * Whether a token shows the step that produced it: under `producing` true, the model's own words; under "all",
   * every token.
   * @param {number} token
   */
  showsProducer(token) {
    return showsProducer(this.model.get("producing"), this.partOf(token));
  }
  /**
   * The rows the given tokens show (tokens without one are left out).
   * @param {number[]} tokens
   */
  rowsOf(tokens) {
    return tokens.flatMap((token) => {
      const row = this.rowOf(token);
      return row === null ? [] : [row];
    });
  }
  /**
   * A token's strip: its part of the text.
   * @param {number} token
   */
  groupOf(token) {
    return this.model.get("groups")[this.model.get("tokens")[token].group];
  }
  /**
   * A token's part: "prompt", "thinking" or "answer".
   * @param {number} token
   */
  partOf(token) {
    return this.groupOf(token)?.name ?? "prompt";
  }
  /**
   * Each medium's map on screen: the mean of `rows` over its shown frame's columns.
   * @param {import("./payload.js").Maps} maps
   * @param {number[]} rows
   */
  mediaValues(maps, rows) {
    return this.model.get("media").map((medium, index) => {
      const { start, count } = frameColumns(medium, this.panels.panels[index].shown);
      return meanOfRows(maps, rows, start, count);
    });
  }
  /**
   * The top of the colour scale: the shown maps' maximum, or with a shared scale the largest value of any
   * visible token's row.
   * @param {import("./payload.js").Maps} maps
   * @param {Float32Array[]} values
   */
  scaleTop(maps, values) {
    if (!this.model.get("shared_scale")) return Math.max(...values.map(maximum));
    let max = 0;
    for (let token = 0; token < maps.queries; token++) {
      const row = this.rowOf(token);
      if (row !== null && this.strips.isVisible(token) && maps.scales[row] > max) max = maps.scales[row];
    }
    return max;
  }
  repaint() {
    const maps = this.maps;
    if (!maps) return;
    const rows = this.activeRows();
    const values = this.mediaValues(maps, rows);
    const max = this.scaleTop(maps, values);
    const colormap = this.model.get("colormap");
    this.panels.paint(values, max, this.overlayStyle());
    this.drawBoxes(values);
    this.paintStrips(maps, rows);
    this.colorbar.draw(colormap, max, (value) => this.valueWords(value), this.scaleMeaning(rows.length));
    this.drawSinks();
    this.paintHeads();
    this.tintTokens();
    this.updateCaption();
    this.frames += 1;
    this.root.dataset.qvlFrames = String(this.frames);
  }
  /** How the overlays are drawn: the state's colour map, opacity, smoothing and style. */
  overlayStyle() {
    return {
      colormap: this.model.get("colormap"),
      opacity: this.model.get("opacity"),
      smooth: this.model.get("smooth"),
      style: this.model.get("overlay_style")
    };
  }
  /**
   * The boxes on the pictures, the share of the shown maps inside each under its picture, and in the contour style
   * how to read the lines.
   * @param {Float32Array[]} values  each medium's map on screen
   */
  drawBoxes(values) {
    const boxes = this.model.get("boxes");
    this.panels.drawBoxes(boxes);
    this.panels.describeBoxes(values, boxes);
    this.legend.textContent = this.model.get("overlay_style") === "contour" ? CONTOUR_LEGEND : "";
  }
  /**
   * Each video's film strip: the rows' share of attention on each temporal group, or with relative maps each
   * group's mean ratio to the baseline.
   * @param {import("./payload.js").Maps} maps
   * @param {number[]} rows
   */
  paintStrips(maps, rows) {
    const relative = this.model.get("relative");
    const values = this.model.get("media").map((medium) => {
      if (medium.kind !== "video") return null;
      const count = medium.rows * medium.cols;
      const sums = blockSums(maps, rows, medium.first_column, count, medium.frames.length);
      if (relative) for (let group = 0; group < sums.length; group++) sums[group] /= count;
      return sums;
    });
    this.panels.paintStrips(values, {
      colormap: this.model.get("colormap"),
      format: relative ? (value) => this.valueWords(value) : percent,
      what: relative ? "(the mean over this group's cells)" : "of the attention on this group"
    });
  }
  /**
   * What the colour bar's numbers are, for `rows` maps on show.
   * @param {number} rows
   */
  scaleMeaning(rows) {
    const columns = this.maps?.columns ?? 0;
    return scaleMeaning({ unit: this.model.get("unit"), relative: this.model.get("relative"), columns }, rows);
  }
  /**
   * A value of the current maps in the view's unit (a percentage, × uniform, or × baseline).
   * @param {number} value
   */
  valueWords(value) {
    const columns = this.maps?.columns ?? 0;
    return scaleValue(value, { unit: this.model.get("unit"), relative: this.model.get("relative"), columns });
  }
  /** The image columns that are visual sinks in any of the chosen layers (none without sink scores). */
  sinkColumns() {
    const sinks = this.model.get("sinks");
    if (sinks === null) return /* @__PURE__ */ new Set();
    return new Set(coveredIndices(this.model.get("layer"), sinks.length).flatMap((layer) => sinks[layer] ?? []));
  }
  /** Outline the chosen layers' visual sinks on each shown frame, with `mark_sinks`. */
  drawSinks() {
    const columns = this.model.get("mark_sinks") ? this.sinkColumns() : /* @__PURE__ */ new Set();
    const cells = this.model.get("media").map((medium, index) => {
      const { start, count } = frameColumns(medium, this.panels.panels[index].shown);
      return [...columns].filter((column) => column >= start && column < start + count).map((column) => column - start);
    });
    this.panels.drawMarks(cells);
  }
  /** The head overview, for the tokens on show (hidden while off or until its data has come). */
  paintHeads() {
    const setting = this.model.get("head_overview");
    const heads = this.heads;
    this.overview.element.hidden = setting === "off" || heads === null;
    if (setting === "off" || heads === null) return;
    const started = performance.now();
    const measure = setting === "focus" ? "focus" : "mass";
    const chosen = {
      layers: coveredIndices(this.model.get("layer"), heads.layers),
      heads: coveredIndices(this.model.get("head"), heads.heads)
    };
    this.overview.paint({
      values: headValues(heads, this.activeRows(), measure),
      measure,
      colormap: this.model.get("colormap"),
      layerIds: this.model.get("layer_ids"),
      chosen,
      format: percent
    });
    performance.measure("qvl-heads-paint", { start: started, end: performance.now() });
  }
  /** Chips tinted by their image share, or, while a cell is hovered, by their attention to that cell. */
  tintTokens() {
    const maps = this.maps;
    if (!maps) return;
    const cell = this.hoveredCell;
    const colormap = this.model.get("colormap");
    let column = -1;
    if (cell) {
      const medium = this.model.get("media")[cell.medium];
      const { start } = frameColumns(medium, this.panels.panels[cell.medium].shown);
      column = start + cell.row * medium.cols + cell.col;
    }
    const weights = Array.from({ length: maps.queries }, (_, token) => {
      const row = this.rowOf(token);
      if (row === null) return 0;
      return cell ? valueAt(maps, row, column) : maps.mass[row];
    });
    const what = cell ? "attention to the hovered cell" : "attention on the image";
    const format = cell ? (value) => this.valueWords(value) : percent;
    const words = (token) => this.showsProducer(token) ? `${what} (producing step)` : what;
    this.strips.tint(weights, colormap, words, format);
  }
  updateCaption() {
    const maps = this.maps;
    if (!maps) return;
    const reduce = this.model.get("reduce");
    const parts = [
      layerLabel(this.model.get("layer"), this.model.get("layer_ids"), reduce),
      headLabel(this.model.get("head"), reduce)
    ];
    const cell = this.hoveredCell;
    parts.push(...this.derivation());
    if (cell) {
      const words = `${this.mediumWords(cell.medium)}, cell row ${cell.row}, col ${cell.col}: tokens tinted by attention to it`;
      parts.push(this.isSink(cell) ? `${words} (a visual sink)` : words);
    } else {
      const rows = this.activeRows();
      const shown = this.activeTokens();
      parts.push(this.describeTokens(shown));
      if (rows.length) parts.push(`${percent(meanMass(maps, rows))} of attention on the image`);
      if (this.tokensChosen()) parts.push(...this.groupNotes(shown));
    }
    this.caption.textContent = parts.join(" \xB7 ");
  }
  /**
   * A medium in a caption: "image 1", or "video 2, group 3 of 8, 1.0–1.5 s" (the group on screen).
   * @param {number} index
   */
  mediumWords(index) {
    const medium = this.model.get("media")[index];
    if (medium.kind !== "video") return `image ${index + 1}`;
    return `video ${index + 1}, ${groupLabel(this.panels.panels[index].shown, medium)}`;
  }
  /** How the maps on show were derived: divided by the baseline's, sinks left out, sinks outlined. */
  derivation() {
    const words = [];
    const baseline = this.model.get("baseline_prompt");
    if (this.model.get("relative") && baseline !== null) words.push(`\xF7 baseline \u201C\u2068${baseline}\u2069\u201D`);
    if (this.model.get("drop_sinks")) words.push("visual sinks left out");
    if (this.model.get("mark_sinks")) {
      const count = this.sinkColumns().size;
      words.push(count ? `${count} visual sink${count === 1 ? "" : "s"} outlined` : "no visual sinks in these layers");
    }
    return words;
  }
  /**
   * Whether a cell is a visual sink of the chosen layers.
   * @param {Cell} cell
   */
  isSink(cell) {
    const medium = this.model.get("media")[cell.medium];
    const { start } = frameColumns(medium, this.panels.panels[cell.medium].shown);
    return this.sinkColumns().has(start + cell.row * medium.cols + cell.col);
  }
  /**
   * The caption's words for the tokens shown.
   * @param {number[]} shown
   */
  describeTokens(shown) {
    const tokens = this.model.get("tokens");
    if (!this.tokensChosen()) {
      const promptText = tokens.some((token, index) => !token.special && this.partOf(index) === "prompt");
      return promptText ? "all prompt tokens" : "all tokens";
    }
    const [first] = shown;
    if (shown.length === 1 && this.showsProducer(first)) return producingLabel(tokens[first], this.partOf(first));
    const texts = shown.map((token) => tokens[token].text);
    const producers = shown.filter((token) => this.showsProducer(token)).length;
    if (producers === 0) return ownRowsLabel(texts, this.generated);
    if (producers === shown.length) return `the steps that produced ${quoteTokens(texts)}`;
    return `${quoteTokens(texts)} (the model's words: the steps that wrote them; the others: their own rows)`;
  }
  /**
   * The notes of the strips the shown tokens are in (e.g. that the model was still thinking), each once.
   * @param {number[]} shown
   */
  groupNotes(shown) {
    return [...new Set(shown.map((token) => this.groupOf(token)?.note ?? ""))].filter((note) => note);
  }
  // ----- user -> state ------------------------------------------------------------------------------------
  /**
   * A new layer; its head menu may lack the current head (the HTML page embeds some pairs only): then its first.
   * @param {import("./state.js").Choice} layer
   */
  chooseLayer(layer) {
    const heads = this.model.get("available").heads[String(layer)] ?? [];
    this.model.set("layer", layer);
    const offered = heads.map(String).includes(String(this.model.get("head")));
    if (!offered && heads.length) this.model.set("head", heads[0]);
    this.model.save_changes();
  }
  /**
   * One layer and head, from the head overview.
   * @param {number} layer
   * @param {number} head
   */
  chooseHead(layer, head) {
    const offered = (this.model.get("available").heads[String(layer)] ?? []).map(String);
    if (!offered.includes(String(head))) {
      const name = `${layerLabel(layer, this.model.get("layer_ids"))}, ${headLabel(head)}`;
      this.status.textContent = `${name} is not in this page: export it with layers=[...] and heads="all"`;
      return;
    }
    this.status.textContent = "";
    this.model.set("layer", layer);
    this.model.set("head", head);
    this.model.save_changes();
  }
  /** @param {number | null} index */
  hoverToken(index) {
    if (index === this.hovered) return;
    this.hovered = index;
    this.repaint();
  }
  /** @param {Cell | null} cell */
  hoverCell(cell) {
    const before = this.hoveredCell;
    if (cell && before && cell.medium === before.medium && cell.row === before.row && cell.col === before.col) return;
    this.hoveredCell = cell;
    this.panels.drawCursor(cell);
    this.tintTokens();
    this.updateCaption();
  }
  async savePng() {
    const maps = this.maps;
    if (!maps) return;
    this.status.textContent = "Preparing PNG\u2026";
    const values = this.mediaValues(maps, this.activeRows());
    const { layer, head } = { layer: String(this.model.get("layer")), head: String(this.model.get("head")) };
    const composites = this.model.get("media").map((medium, index) => {
      const frame = this.panels.panels[index].shown;
      const what = medium.kind === "video" ? `video${index + 1}-group${frame + 1}` : `image${index + 1}`;
      return { medium, frame, values: values[index], name: `qvl-attention-${layer}-${head}-${what}.png` };
    });
    try {
      await savePngs(this.model, composites, this.scaleTop(maps, values), this.overlayStyle(), this.model.get("boxes"));
      this.status.textContent = "";
    } catch (error) {
      this.status.textContent = `Save PNG failed: ${error}`;
    }
  }
  destroy() {
    for (const [event, callback] of this.listeners) this.model.off(event, callback);
    this.panels.release();
    this.root.remove();
  }
};

// js/study.js
var StudyView = class {
  /**
   * @param {Model} model
   * @param {HTMLElement} el
   */
  constructor(model, el) {
    this.model = model;
    this.view = null;
    this.viewOf = null;
    this.root = element("div", "qvl-study");
    this.table = new ExampleTable(model.get("column"), (id) => this.choose(id));
    this.status = element("div", "qvl-study-status", { "aria-live": "polite" });
    this.holder = element("div", "qvl-study-view");
    this.root.append(this.table.root, this.status, this.holder);
    el.append(this.root);
    this.listeners = [
      ["change:examples", () => this.table.setRows(model.get("examples"))],
      ["change:shown", () => this.sync()],
      ["change:message", () => this.say()]
    ];
    for (const [event, callback] of this.listeners) model.on(event, callback);
    this.table.setRows(model.get("examples"));
    this.sync();
  }
  /** @param {string} id */
  choose(id) {
    if (id === this.model.get("shown")) return;
    this.status.textContent = `Opening example ${id}\u2026`;
    this.model.set("chosen", id);
    this.model.save_changes();
  }
  /** The attention view follows `shown`: dropped while it is null, built anew for each example. */
  sync() {
    const shown = this.model.get("shown");
    if (this.view && this.viewOf !== shown) {
      this.view.destroy();
      this.view = null;
    }
    if (!this.view && shown !== null) {
      this.view = new AttentionView(this.model, this.holder);
      this.viewOf = shown;
    }
    this.table.mark(shown);
    this.say();
  }
  say() {
    const shown = this.model.get("shown");
    const message = this.model.get("message");
    this.status.textContent = message || (shown === null ? "Opening\u2026" : this.describe(shown));
    this.status.classList.toggle("qvl-study-error", Boolean(message));
  }
  /**
   * What the status line says of the example on view: its id, value and rank.
   * @param {string} id
   */
  describe(id) {
    const rows = this.model.get("examples");
    const rank = rows.findIndex((row) => row.id === id);
    const value = rows[rank]?.value;
    if (rank < 0 || value === null || value === void 0) return `Example ${id}`;
    return `Example ${id}: ${value.toFixed(3)}, rank ${rank + 1} of ${rows.length}`;
  }
  destroy() {
    for (const [event, callback] of this.listeners) this.model.off(event, callback);
    this.view?.destroy();
    this.root.remove();
  }
};

// js/widget.js
function render({ model, el }) {
  const study = (
    /** @type {import("./study.js").Model} */
    /** @type {unknown} */
    model
  );
  const view = study.get("examples") === void 0 ? new AttentionView(model, el) : new StudyView(study, el);
  return () => view.destroy();
}
var widget_default = { render };
export {
  widget_default as default
};
