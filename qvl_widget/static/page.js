// js/standalone.js
function createModel(state, options = {}) {
  const listeners = /* @__PURE__ */ new Map();
  let pending = {};
  const sent = [];
  const emit = (name) => {
    for (const callback of [...listeners.get(`change:${name}`) ?? []]) callback();
  };
  const apply = (changes) => {
    for (const [name, value] of Object.entries(changes)) {
      state[name] = value;
      emit(name);
    }
  };
  return {
    /** @param {string} name */
    get: (name) => state[name],
    /**
     * @param {string} name
     * @param {any} value
     */
    set(name, value) {
      state[name] = value;
      pending[name] = value;
      emit(name);
    },
    save_changes() {
      const changes = pending;
      pending = {};
      options.onSave?.(changes, apply);
    },
    /**
     * @param {string} event
     * @param {Function} callback
     */
    on(event, callback) {
      if (!listeners.has(event)) listeners.set(event, /* @__PURE__ */ new Set());
      listeners.get(event)?.add(callback);
    },
    /**
     * @param {string} event
     * @param {Function} callback
     */
    off(event, callback) {
      listeners.get(event)?.delete(callback);
    },
    /**
     * A custom message: recorded, never delivered.
     * @param {any} content
     */
    send(content) {
      sent.push(content);
    },
    sent,
    apply
  };
}

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
  let packed = packedCache.get(name);
  if (!packed) {
    const rgb = rgbTable(name);
    const bytes = new Uint8Array(256 * 4);
    for (let index = 0; index < 256; index++) {
      bytes.set([rgb[3 * index], rgb[3 * index + 1], rgb[3 * index + 2], 255], 4 * index);
    }
    packed = new Uint32Array(bytes.buffer);
    packedCache.set(name, packed);
  }
  return packed;
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

// js/overlay.js
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
function cellAt(x, y, width, height, rows, cols) {
  const col = Math.min(cols - 1, Math.max(0, Math.floor(x / width * cols)));
  const row = Math.min(rows - 1, Math.max(0, Math.floor(y / height * rows)));
  return { row, col };
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

// js/payload.js
var PAYLOAD_VERSION = 1;
var HEADER_BYTES = 12;
function decodeMaps(view) {
  if (view.byteLength < HEADER_BYTES) {
    throw new Error(`attention payload too short: ${view.byteLength} bytes`);
  }
  const version = view.getUint32(0, true);
  if (version !== PAYLOAD_VERSION) {
    throw new Error(`attention payload version ${version}, expected ${PAYLOAD_VERSION}: update qvl_widget`);
  }
  const queries = view.getUint32(4, true);
  const columns = view.getUint32(8, true);
  const expected = HEADER_BYTES + 8 * queries + queries * columns;
  if (view.byteLength !== expected) {
    throw new Error(`attention payload has ${view.byteLength} bytes, expected ${expected}`);
  }
  const scales = new Float32Array(queries);
  const mass = new Float32Array(queries);
  for (let row = 0; row < queries; row++) {
    scales[row] = view.getFloat32(HEADER_BYTES + 4 * row, true);
    mass[row] = view.getFloat32(HEADER_BYTES + 4 * (queries + row), true);
  }
  const values = new Uint8Array(view.buffer, view.byteOffset + HEADER_BYTES + 8 * queries, queries * columns);
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

// js/view.js
var MAX_PIXEL_RATIO = 2;
var MAX_FRAME_ASPECT = 2;
var MAX_CANVAS_SIDE = 8192;
var FULL_PICTURES_TIMEOUT_MS = 6e4;
function element(tag, className, attributes = {}) {
  const node = document.createElement(tag);
  node.className = className;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}
function chipText(text) {
  if (text === "") return "\u2205";
  return text.replace(/\n/g, "\u23CE").replace(/\t/g, "\u21E5");
}
function layerLabel(layer) {
  return layer === "mean" ? "mean of layers" : `layer ${layer}`;
}
function headLabel(head) {
  return head === "mean" || head === "max" ? `${head} of heads` : `head ${head}`;
}
function percent(probability) {
  return `${(probability * 100).toFixed(probability < 0.1 ? 1 : 0)}%`;
}
function parseChoice(value) {
  return /^-?\d+$/.test(value) ? Number(value) : value;
}
var AttentionView = class {
  /**
   * @param {Model} model
   * @param {HTMLElement} el
   */
  constructor(model, el) {
    this.model = model;
    this.el = el;
    this.hovered = null;
    this.hoveredCell = null;
    this.maps = null;
    this.frames = 0;
    this.listeners = [];
    this.stopWatchingPixelRatio = null;
    this.build();
    this.listen();
    this.updateMaps();
  }
  /** @param {string} name */
  get(name) {
    return this.model.get(name);
  }
  /**
   * @param {string} name
   * @param {any} value
   */
  setState(name, value) {
    this.model.set(name, value);
    this.model.save_changes();
  }
  /** @returns {Token[]} */
  get tokens() {
    return this.get("tokens");
  }
  /** @returns {ImageInfo[]} */
  get images() {
    return this.get("images");
  }
  // ----- building the DOM ------------------------------------------------------------------------------
  build() {
    this.root = element("div", "qvl-widget");
    this.toolbar = element("div", "qvl-toolbar", { role: "toolbar", "aria-label": "Attention map controls" });
    this.layerSelect = this.addSelect("Layer", "qvl-layer", "Decoder layer, or the mean over layers");
    this.headSelect = this.addSelect("Head", "qvl-head", "Attention head, or the mean / max over heads");
    this.colormapSelect = this.addSelect("Colours", "qvl-colormap", "Colour map");
    for (const name of COLORMAP_NAMES) this.colormapSelect.append(new Option(name, name));
    this.opacityInput = this.addInput("Opacity", "qvl-opacity", "range", "Overlay opacity");
    Object.assign(this.opacityInput, { min: "0", max: "1", step: "0.05" });
    this.smoothInput = this.addInput("Smooth", "qvl-smooth", "checkbox", "Smooth (on) or blocky (off) cells");
    this.sharedInput = this.addInput("Shared scale", "qvl-shared", "checkbox", "One colour scale for all tokens");
    this.specialInput = this.addInput("Template tokens", "qvl-special", "checkbox", "Show chat-template tokens");
    this.saveButton = element("button", "qvl-save", { type: "button", "aria-label": "Save image with overlay as PNG" });
    this.saveButton.textContent = "Save PNG";
    this.toolbar.append(this.saveButton);
    this.strip = element("div", "qvl-tokens", {
      role: "listbox",
      "aria-multiselectable": "true",
      "aria-label": "Query tokens: hover or focus one to see where it looks; click to pin, shift-click to add"
    });
    this.caption = element("div", "qvl-caption", { "aria-live": "polite" });
    this.figures = element("div", "qvl-images");
    this.colorbar = element("div", "qvl-colorbar", { "aria-hidden": "true" });
    this.colorbarCanvas = element("canvas", "qvl-colorbar-ramp");
    this.colorbarCanvas.width = 256;
    this.colorbarCanvas.height = 1;
    this.colorbarLow = element("span", "qvl-colorbar-label");
    this.colorbarHigh = element("span", "qvl-colorbar-label");
    this.colorbar.append(this.colorbarLow, this.colorbarCanvas, this.colorbarHigh);
    this.status = element("div", "qvl-status", { role: "status" });
    this.root.append(this.toolbar, this.strip, this.caption, this.figures, this.colorbar, this.status);
    this.el.append(this.root);
    this.buildTokens();
    this.buildFigures();
    this.syncControls();
  }
  /**
   * @param {string} label
   * @param {string} className
   * @param {string} description
   * @returns {HTMLSelectElement}
   */
  addSelect(label, className, description) {
    const wrapper = element("label", "qvl-control");
    const select = element("select", className, { "aria-label": description });
    const text = element("span", "qvl-control-label");
    text.textContent = label;
    wrapper.append(text, select);
    this.toolbar.append(wrapper);
    return select;
  }
  /**
   * @param {string} label
   * @param {string} className
   * @param {string} type
   * @param {string} description
   * @returns {HTMLInputElement}
   */
  addInput(label, className, type, description) {
    const wrapper = element("label", "qvl-control");
    const input = element("input", className, { type, "aria-label": description });
    const text = element("span", "qvl-control-label");
    text.textContent = label;
    if (type === "checkbox") wrapper.append(input, text);
    else wrapper.append(text, input);
    this.toolbar.append(wrapper);
    return input;
  }
  buildTokens() {
    this.chips = this.tokens.map((token, index) => {
      const chip = element("span", token.special ? "qvl-token qvl-special-token" : "qvl-token", {
        "data-qvl-token": String(index),
        role: "option",
        tabindex: "-1"
      });
      chip.textContent = chipText(token.text);
      return chip;
    });
    this.strip.replaceChildren(...this.chips);
  }
  buildFigures() {
    this.panels = this.images.map((info, index) => {
      const figure = element("figure", "qvl-figure");
      const { cssWidth, cssHeight } = frameSize(this.get("width"), info);
      const frame = element("div", "qvl-frame");
      frame.style.width = `${cssWidth}px`;
      frame.style.aspectRatio = `${cssWidth} / ${cssHeight}`;
      const image = element("img", "qvl-image", { alt: `Image ${index + 1}`, draggable: "false" });
      image.src = this.pictureUrl(index);
      const ratio = Math.min(MAX_PIXEL_RATIO, window.devicePixelRatio || 1, MAX_CANVAS_SIDE / Math.max(cssWidth, cssHeight));
      const overlay = element("canvas", "qvl-overlay", { "data-qvl-image": String(index) });
      const cursor = element("canvas", "qvl-cursor");
      for (const canvas of [overlay, cursor]) {
        canvas.width = Math.round(cssWidth * ratio);
        canvas.height = Math.round(cssHeight * ratio);
      }
      const grid = element("canvas", "qvl-scratch");
      grid.width = info.cols;
      grid.height = info.rows;
      frame.append(image, overlay, cursor);
      const caption = element("figcaption", "qvl-figcaption");
      caption.textContent = `Image ${index + 1} \xB7 ${info.rows} \xD7 ${info.cols} tokens \xB7 ${info.width} \xD7 ${info.height} px`;
      figure.append(frame, caption);
      this.figures.append(figure);
      frame.addEventListener("pointermove", (event) => this.hoverCell(index, event));
      frame.addEventListener("pointerleave", () => this.hoverCell(null, null));
      return { frame, image, overlay, cursor, scratch: { grid, gridContext: grid.getContext("2d") }, cssWidth, cssHeight };
    });
    this.watchPixelRatio();
  }
  /** Canvases are sized for the screen's pixel ratio: when it changes (browser zoom, another screen), rebuild them. */
  watchPixelRatio() {
    this.stopWatchingPixelRatio?.();
    const query = window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
    const changed = () => this.rebuildFigures();
    query.addEventListener("change", changed, { once: true });
    this.stopWatchingPixelRatio = () => query.removeEventListener("change", changed);
  }
  /** @param {number} index */
  pictureUrl(index) {
    const view = this.get("pictures")[index];
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    const url = URL.createObjectURL(new Blob([bytes], { type: this.images[index].mime }));
    (this.urls ?? (this.urls = [])).push(url);
    return url;
  }
  // ----- state -> controls -------------------------------------------------------------------------------
  syncControls() {
    const available = this.get("available");
    const layer = this.get("layer");
    fillOptions(this.layerSelect, available.layers, layerLabel, layer);
    fillOptions(this.headSelect, available.heads[String(layer)] ?? [], headLabel, this.get("head"));
    this.colormapSelect.value = this.get("colormap");
    this.opacityInput.value = String(this.get("opacity"));
    this.smoothInput.checked = this.get("smooth");
    this.sharedInput.checked = this.get("shared_scale");
    this.specialInput.checked = this.get("show_special");
    for (const panel of this.panels) panel.overlay.style.opacity = String(this.get("opacity"));
    this.syncTokens();
  }
  syncTokens() {
    const selected = new Set(this.get("selected"));
    const showSpecial = this.get("show_special") || !this.hasPromptTokens();
    this.chips.forEach((chip, index) => {
      chip.hidden = this.tokens[index].special && !showSpecial && !selected.has(index);
      chip.classList.toggle("qvl-pinned", selected.has(index));
      chip.setAttribute("aria-selected", String(selected.has(index)));
    });
    this.keepTabStop();
  }
  /** Roving tabindex: one visible chip is in the tab order, the one that was, else the first visible one. */
  keepTabStop() {
    const visible = this.visibleChips();
    const stop = visible.find((chip) => chip.tabIndex === 0) ?? visible[0];
    for (const chip of this.chips) chip.tabIndex = chip === stop ? 0 : -1;
  }
  hasPromptTokens() {
    return this.tokens.some((token) => !token.special);
  }
  /** Rebuild the pictures at a new `width` or pixel ratio (their sizes, canvases and listeners depend on them). */
  rebuildFigures() {
    for (const url of this.urls ?? []) URL.revokeObjectURL(url);
    this.urls = [];
    this.hoveredCell = null;
    this.figures.replaceChildren();
    this.buildFigures();
    this.syncControls();
    this.repaint();
  }
  visibleChips() {
    return this.chips.filter((chip) => !chip.hidden);
  }
  /** The rows shown when nothing is hovered or pinned: the prompt's own tokens. */
  defaultRows() {
    const rows = this.tokens.flatMap((token, index) => token.special ? [] : [index]);
    return rows.length ? rows : this.tokens.map((_, index) => index);
  }
  activeRows() {
    if (this.hovered !== null) return [this.hovered];
    const selected = this.get("selected");
    return selected.length ? selected : this.defaultRows();
  }
  // ----- listening ------------------------------------------------------------------------------------------
  listen() {
    const on = (event, callback) => {
      this.model.on(event, callback);
      this.listeners.push([event, callback]);
    };
    on("change:maps_payload", () => this.updateMaps());
    on("change:layer", () => this.syncControls());
    on("change:head", () => this.syncControls());
    on("change:available", () => this.syncControls());
    on("change:selected", () => {
      this.syncTokens();
      this.repaint();
    });
    for (const name of ["colormap", "smooth", "shared_scale"]) {
      on(`change:${name}`, () => {
        this.syncControls();
        this.repaint();
      });
    }
    on("change:opacity", () => this.syncControls());
    on("change:width", () => this.rebuildFigures());
    on("change:show_special", () => {
      this.syncControls();
      this.repaint();
    });
    this.layerSelect.addEventListener("change", () => this.chooseLayer(parseChoice(this.layerSelect.value)));
    this.headSelect.addEventListener("change", () => this.setState("head", parseChoice(this.headSelect.value)));
    this.colormapSelect.addEventListener("change", () => this.setState("colormap", this.colormapSelect.value));
    this.opacityInput.addEventListener("input", () => this.setState("opacity", Number(this.opacityInput.value)));
    this.smoothInput.addEventListener("change", () => this.setState("smooth", this.smoothInput.checked));
    this.sharedInput.addEventListener("change", () => this.setState("shared_scale", this.sharedInput.checked));
    this.specialInput.addEventListener("change", () => this.setState("show_special", this.specialInput.checked));
    this.saveButton.addEventListener("click", () => this.savePng());
    this.strip.addEventListener("pointerover", (event) => {
      const index = tokenIndex(event.target);
      if (index !== null) this.hoverToken(index);
    });
    this.strip.addEventListener("pointerleave", () => this.hoverToken(null));
    this.strip.addEventListener("focusin", (event) => this.hoverToken(tokenIndex(event.target)));
    this.strip.addEventListener("focusout", () => this.hoverToken(null));
    this.strip.addEventListener("click", (event) => {
      const index = tokenIndex(event.target);
      if (index !== null) this.pin(index, event.shiftKey || event.ctrlKey || event.metaKey);
    });
    this.strip.addEventListener("keydown", (event) => this.onKey(event));
  }
  /** @param {number|string} layer */
  chooseLayer(layer) {
    const available = this.get("available");
    const heads = available.heads[String(layer)] ?? [];
    this.model.set("layer", layer);
    if (!heads.includes(this.get("head")) && heads.length) this.model.set("head", heads[0]);
    this.model.save_changes();
  }
  /**
   * @param {number} index
   * @param {boolean} add  add to / remove from the selection instead of replacing it
   */
  pin(index, add) {
    const selected = this.get("selected");
    let next;
    if (add) next = selected.includes(index) ? selected.filter((i) => i !== index) : [...selected, index];
    else next = selected.length === 1 && selected[0] === index ? [] : [index];
    this.setState("selected", next);
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
      this.pin(current, event.shiftKey || event.ctrlKey || event.metaKey);
    } else if (event.key === "Escape") this.setState("selected", []);
    else return;
    event.preventDefault();
    if (target) {
      for (const chip of chips) chip.tabIndex = -1;
      target.tabIndex = 0;
      target.focus();
    }
  }
  /** @param {number | null} index */
  hoverToken(index) {
    if (index === this.hovered) return;
    this.hovered = index;
    this.repaint();
  }
  /**
   * @param {number | null} image
   * @param {PointerEvent | null} event
   */
  hoverCell(image, event) {
    if (image === null || event === null) {
      this.hoveredCell = null;
    } else {
      const info = this.images[image];
      const bounds = this.panels[image].frame.getBoundingClientRect();
      const { row, col } = cellAt(
        event.clientX - bounds.left,
        event.clientY - bounds.top,
        bounds.width,
        bounds.height,
        info.rows,
        info.cols
      );
      const same = this.hoveredCell && this.hoveredCell.image === image && this.hoveredCell.row === row;
      if (same && this.hoveredCell?.col === col) return;
      this.hoveredCell = { image, row, col };
    }
    this.drawCursor();
    this.tintTokens();
    this.updateCaption();
  }
  // ----- painting ---------------------------------------------------------------------------------------
  updateMaps() {
    const payload = this.get("maps_payload");
    try {
      this.maps = payload && payload.byteLength ? decodeMaps(payload) : null;
      this.status.textContent = "";
    } catch (error) {
      this.maps = null;
      this.status.textContent = String(error);
    }
    this.repaint();
  }
  /** Maximum over the visible tokens' rows: the shared colour scale. */
  sharedMax() {
    const maps = this.maps;
    if (!maps) return 0;
    let max = 0;
    this.chips.forEach((chip, row) => {
      if (!chip.hidden && maps.scales[row] > max) max = maps.scales[row];
    });
    return max;
  }
  repaint() {
    const maps = this.maps;
    if (!maps) return;
    const rows = this.activeRows();
    const values = this.images.map((info) => meanOfRows(maps, rows, info.first_column, info.rows * info.cols));
    const max = this.get("shared_scale") ? this.sharedMax() : Math.max(...values.map(maximum));
    const style = { colormap: this.get("colormap"), smooth: this.get("smooth") };
    this.panels.forEach((panel, index) => {
      const info = this.images[index];
      const context = panel.overlay.getContext("2d");
      const size = { width: panel.overlay.width, height: panel.overlay.height };
      drawMap(context, panel.scratch, values[index], info.rows, info.cols, max, { ...style, ...size });
    });
    this.scale = max;
    this.drawColorbar(max);
    this.tintTokens();
    this.updateCaption();
    this.frames += 1;
    this.root.dataset.qvlFrames = String(this.frames);
  }
  /** @param {number} max */
  drawColorbar(max) {
    const context = this.colorbarCanvas.getContext("2d");
    const ramp = context.createImageData(256, 1);
    const rgb = rgbTable(this.get("colormap"));
    for (let index = 0; index < 256; index++) {
      ramp.data.set([rgb[3 * index], rgb[3 * index + 1], rgb[3 * index + 2], 255], 4 * index);
    }
    context.putImageData(ramp, 0, 0);
    this.colorbarLow.textContent = "0%";
    this.colorbarHigh.textContent = percent(max);
  }
  drawCursor() {
    this.panels.forEach((panel, index) => {
      const context = panel.cursor.getContext("2d");
      context.clearRect(0, 0, panel.cursor.width, panel.cursor.height);
      const cell = this.hoveredCell;
      if (!cell || cell.image !== index) return;
      const info = this.images[index];
      const cellWidth = panel.cursor.width / info.cols;
      const cellHeight = panel.cursor.height / info.rows;
      context.lineWidth = Math.max(1, panel.cursor.width / 400);
      context.strokeStyle = "white";
      context.strokeRect(cell.col * cellWidth, cell.row * cellHeight, cellWidth, cellHeight);
    });
  }
  /** Chips tinted by their image mass, or, while a cell is hovered, by their attention to that cell. */
  tintTokens() {
    const maps = this.maps;
    if (!maps) return;
    const cell = this.hoveredCell;
    const column = cell ? this.images[cell.image].first_column + cell.row * this.images[cell.image].cols + cell.col : -1;
    const weights = this.chips.map((_, row) => cell ? valueAt(maps, row, column) : maps.mass[row]);
    const max = maximum(weights.filter((_, row) => !this.chips[row].hidden));
    const colormap = this.get("colormap");
    this.chips.forEach((chip, row) => {
      const share = max > 0 ? weights[row] / max : 0;
      chip.style.backgroundColor = cssColour(colormap, weights[row], max, 0.15 + 0.7 * share);
      chip.style.color = share > 0.55 && colormap !== "gray" ? "#111" : "";
      const what = cell ? "attention to the hovered cell" : "attention on the image";
      chip.title = `${percent(weights[row])} ${what}`;
    });
  }
  updateCaption() {
    const maps = this.maps;
    if (!maps) return;
    const parts = [layerLabel(this.get("layer")), headLabel(this.get("head"))];
    const cell = this.hoveredCell;
    if (cell) {
      parts.push(`image ${cell.image + 1}, cell row ${cell.row}, col ${cell.col}: tokens tinted by attention to it`);
    } else {
      const rows = this.activeRows();
      const everything = this.hasPromptTokens() ? "all prompt tokens" : "all tokens";
      const named = this.hovered === null && !this.get("selected").length ? everything : quoteTokens(this.tokens, rows);
      parts.push(named, `${percent(meanMass(maps, rows))} of attention on the image`);
    }
    this.caption.textContent = parts.join(" \xB7 ");
  }
  // ----- saving -----------------------------------------------------------------------------------------
  /** The original-resolution images: asked from the kernel once, then reused. */
  async fullPictures() {
    const ready = () => this.get("full_pictures").length === this.images.length;
    if (ready()) return this.get("full_pictures");
    return new Promise((resolve, reject) => {
      const done = () => {
        if (!ready()) return;
        clearTimeout(timer);
        this.model.off("change:full_pictures", done);
        resolve(this.get("full_pictures"));
      };
      const timer = setTimeout(() => {
        this.model.off("change:full_pictures", done);
        reject(new Error("the kernel did not send the full-resolution image; is it still running?"));
      }, FULL_PICTURES_TIMEOUT_MS);
      this.model.on("change:full_pictures", done);
      this.setState("want_full_pictures", true);
    });
  }
  async savePng() {
    const maps = this.maps;
    if (!maps) return;
    this.status.textContent = "Preparing PNG\u2026";
    try {
      const pictures = await this.fullPictures();
      const rows = this.activeRows();
      const values = this.images.map((info) => meanOfRows(maps, rows, info.first_column, info.rows * info.cols));
      const max = this.get("shared_scale") ? this.sharedMax() : Math.max(...values.map(maximum));
      for (const [index, info] of this.images.entries()) {
        const blob = await compositePng(pictures[index], info, values[index], max, {
          colormap: this.get("colormap"),
          smooth: this.get("smooth"),
          opacity: this.get("opacity"),
          scratch: this.panels[index].scratch
        });
        download(blob, `qvl-attention-${String(this.get("layer"))}-${String(this.get("head"))}-image${index + 1}.png`);
      }
      this.status.textContent = "";
    } catch (error) {
      this.status.textContent = `Save PNG failed: ${error}`;
    }
  }
  destroy() {
    this.stopWatchingPixelRatio?.();
    for (const [event, callback] of this.listeners) this.model.off(event, callback);
    for (const url of this.urls ?? []) URL.revokeObjectURL(url);
    this.root.remove();
  }
};
function tokenIndex(target) {
  const chip = target instanceof Element ? target.closest("[data-qvl-token]") : null;
  return chip ? Number(chip.getAttribute("data-qvl-token")) : null;
}
function frameSize(width, info) {
  const aspect = info.height / info.width;
  if (aspect <= MAX_FRAME_ASPECT) return { cssWidth: width, cssHeight: Math.round(width * aspect) };
  const cssHeight = Math.round(width * MAX_FRAME_ASPECT);
  return { cssWidth: Math.max(1, Math.round(cssHeight / aspect)), cssHeight };
}
function fillOptions(select, choices, label, value) {
  const wanted = choices.map(String).join("|");
  if (select.dataset.choices !== wanted) {
    select.replaceChildren(...choices.map((choice) => new Option(label(choice), String(choice))));
    select.dataset.choices = wanted;
  }
  select.value = String(value);
}
function quoteTokens(tokens, rows) {
  const shown = rows.slice(0, 6).map((row) => `\u201C\u2068${chipText(tokens[row].text)}\u2069\u201D`);
  return rows.length > 6 ? `${shown.join(" + ")} + ${rows.length - 6} more` : shown.join(" + ");
}
async function compositePng(picture, info, values, max, style) {
  const bytes = new Uint8Array(picture.buffer, picture.byteOffset, picture.byteLength);
  const type = bytes[0] === 137 ? "image/png" : "image/jpeg";
  const bitmap = await createImageBitmap(new Blob([bytes], { type }));
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext("2d");
  context.drawImage(bitmap, 0, 0);
  const overlay = document.createElement("canvas");
  overlay.width = bitmap.width;
  overlay.height = bitmap.height;
  const size = { width: bitmap.width, height: bitmap.height };
  drawMap(overlay.getContext("2d"), style.scratch, values, info.rows, info.cols, max, { ...style, ...size });
  context.globalAlpha = style.opacity;
  context.drawImage(overlay, 0, 0);
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

// js/page.js
async function inflate(base64) {
  const binary = atob(base64.trim());
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).arrayBuffer();
}
function openContainer(buffer) {
  const headerLength = new DataView(buffer).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, headerLength)));
  const start = 4 + headerLength;
  const blob = ([offset, length]) => new DataView(buffer, start + offset, length);
  return { header, blob };
}
function mount(el, { header, blob }) {
  const payloads = Object.fromEntries(Object.entries(header.payloads).map(([key, span]) => [key, blob(span)]));
  const state = {
    ...header.state,
    pictures: header.pictures.map(blob),
    full_pictures: header.full_pictures.map(blob),
    maps_payload: payloads[`${header.state.layer}|${header.state.head}`]
  };
  const model = createModel(state, {
    // The page plays the kernel: a layer/head change is answered with that choice's embedded maps.
    onSave: (changes, apply) => {
      if (!("layer" in changes || "head" in changes)) return;
      const payload = payloads[`${model.get("layer")}|${model.get("head")}`];
      if (payload) apply({ maps_payload: payload });
    }
  });
  return new AttentionView(model, el);
}
var data = document.getElementById("qvl-data");
var root = document.getElementById("qvl-root");
if (data && root) {
  inflate(data.textContent ?? "").then((buffer) => {
    const container = openContainer(buffer);
    const { prompt, model } = container.header;
    const title = document.querySelector(".qvl-page-title");
    const meta = document.querySelector(".qvl-page-meta");
    if (title) title.textContent = prompt;
    if (meta) meta.textContent = `${model} \xB7 text\u2192image attention \xB7 made with qvl_widget`;
    document.title = `qvl_widget \xB7 ${prompt}`;
    mount(root, container);
  }).catch((error) => {
    root.textContent = `Could not open the embedded attention data: ${error}`;
  });
}
export {
  mount,
  openContainer
};
