// The colour bar under the pictures: what its numbers are (a share of what), then the colour map's ramp from 0 to the
// top of the current scale, in the view's unit.

import { rgbTable } from "./colormap.js";
import { element } from "./dom.js";
import { context2d } from "./paint.js";

export class ColourBar {
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
}
