// The toolbar: layer and head menus, the unit, baseline-relative maps, visual sinks, the head overview, colour map,
// overlay style, opacity, smooth cells, shared scale, template tokens, producing steps, Save PNG.
// It shows the state's choices and reports the user's; the view decides what they change.

import { COLORMAP_NAMES } from "./colormap.js";
import { element } from "./dom.js";
import { headLabel, layerLabel } from "./labels.js";
import { parseChoice } from "./state.js";

/**
 * What the toolbar asks of the view.
 * @typedef {Object} ToolbarActions
 * @property {(layer: import("./state.js").Choice) => void} chooseLayer
 * @property {(head: import("./state.js").Choice) => void} chooseHead
 * @property {<K extends SettableName>(name: K, value: import("./state.js").Traits[K]) => void} set
 * @property {() => void} save
 */

/**
 * The traits the toolbar sets directly.
 * @typedef {"colormap" | "opacity" | "smooth" | "style" | "shared_scale" | "show_special" | "producing" | "unit" | "relative" |
 *           "drop_sinks" | "mark_sinks" | "head_overview"} SettableName
 */

/** The unit menu: the option's value (the `unit` trait) and its words. */
const UNITS = [
  ["probability", "probability"],
  ["uniform", "× uniform"],
];
/** The overlay style menu: the option's value (the `style` trait) and its words. */
const STYLES = [
  ["heat", "heat"],
  ["contour", "contour lines"],
];
/** The head overview menu. */
const HEAD_OVERVIEWS = [
  ["off", "off"],
  ["mass", "image share"],
  ["focus", "focus"],
];

export class Toolbar {
  /**
   * @param {ToolbarActions} actions
   * @param {{generated: boolean, baseline: string | null, sinks: boolean}} options  `generated`: the result has tokens
   *   the model wrote (its thinking or its answer): offer the producing switch; `baseline`: the baseline's text,
   *   where there is one (offer relative maps); `sinks`: some layer has visual sinks (offer to hide or mark them)
   */
  constructor(actions, options) {
    this.element = element("div", "qvl-toolbar", { role: "toolbar", "aria-label": "Attention map controls" });
    this.layerSelect = this.addSelect("Layer", "qvl-layer", "Decoder layer, or the mean / max over layers");
    this.layerSelect.title = "A layer is one of the model's stacked processing steps; each reads all earlier tokens";
    this.headSelect = this.addSelect("Head", "qvl-head", "Attention head, or the mean / max over heads");
    this.headSelect.title = "A head is one of the parallel attention patterns inside a layer";
    this.unitSelect = this.addSelect("Unit", "qvl-unit", "Unit of the maps");
    this.unitSelect.title =
      "probability: each cell's share of the token's attention; × uniform: that share times the number of image " +
      "tokens (1 = attention spread evenly), comparable across image sizes";
    for (const [value, words] of UNITS) this.unitSelect.append(new Option(words, value));
    this.relativeInput = this.addInput("÷ baseline", "qvl-relative", "checkbox", "Divide by the baseline prompt's map");
    this.relativeInput.title =
      `Each map divided by the map of the baseline prompt “${options.baseline ?? ""}” at the same layers and ` +
      "heads (MLLMs Know Where to Look, ICLR 2025): above 1 where this prompt looks more than the baseline";
    this.hide(this.relativeInput, options.baseline === null);
    this.dropSinksInput = this.addInput("Hide sinks", "qvl-drop-sinks", "checkbox", "Leave the visual sinks out");
    this.dropSinksInput.title =
      "Visual sinks: image tokens with a massive activation that draw attention whatever the question (See What You " +
      "Are Told, ICLR 2025). Hidden: set to 0 in every head, the rest scaled to keep each token's share on the image";
    this.markSinksInput = this.addInput("Mark sinks", "qvl-mark-sinks", "checkbox", "Outline the visual sinks");
    this.markSinksInput.title = "Outline the visual sinks of the chosen layers on the pictures";
    this.hide(this.dropSinksInput, !options.sinks);
    this.hide(this.markSinksInput, !options.sinks);
    this.headsSelect = this.addSelect("Heads", "qvl-head-overview", "Head overview");
    this.headsSelect.title =
      "A layers × heads grid for the tokens on show: each head's share of attention on the image, or its focus " +
      "(1 − the spatial entropy of its map); click a head to show it";
    for (const [value, words] of HEAD_OVERVIEWS) this.headsSelect.append(new Option(words, value));
    this.colormapSelect = this.addSelect("Colours", "qvl-colormap", "Colour map");
    for (const name of COLORMAP_NAMES) this.colormapSelect.append(new Option(name, name));
    this.styleSelect = this.addSelect("Style", "qvl-style", "Overlay style");
    this.styleSelect.title =
      "heat: the map in colour, transparent where attention is low; contour lines: lines around the smallest " +
      "regions holding 25 %, 50 % and 75 % of the attention, over the untouched picture (they print in greyscale)";
    for (const [value, words] of STYLES) this.styleSelect.append(new Option(words, value));
    this.opacityInput = this.addInput("Opacity", "qvl-opacity", "range", "Overlay opacity");
    Object.assign(this.opacityInput, { min: "0", max: "1", step: "0.05" });
    this.smoothInput = this.addInput("Smooth", "qvl-smooth", "checkbox", "Smooth (on) or blocky (off) cells");
    this.sharedInput = this.addInput("Shared scale", "qvl-shared", "checkbox", "One colour scale for all tokens");
    this.specialInput = this.addInput("Template tokens", "qvl-special", "checkbox", "Show chat-template tokens");
    this.producingInput = this.addInput(
      "Producing step",
      "qvl-producing",
      "checkbox",
      "Each token shows the step that produced it (for a word the model wrote, while thinking or answering: where " +
        "it looked to choose it)",
    );
    this.hide(this.producingInput, !options.generated);
    this.saveButton = element("button", "qvl-save", { type: "button", "aria-label": "Save image with overlay as PNG" });
    this.saveButton.textContent = "Save PNG";
    this.element.append(this.saveButton);

    this.layerSelect.addEventListener("change", () => actions.chooseLayer(parseChoice(this.layerSelect.value)));
    this.headSelect.addEventListener("change", () => actions.chooseHead(parseChoice(this.headSelect.value)));
    this.colormapSelect.addEventListener("change", () => actions.set("colormap", this.colormapSelect.value));
    this.styleSelect.addEventListener("change", () => actions.set("style", this.styleSelect.value));
    this.opacityInput.addEventListener("input", () => actions.set("opacity", Number(this.opacityInput.value)));
    this.smoothInput.addEventListener("change", () => actions.set("smooth", this.smoothInput.checked));
    this.sharedInput.addEventListener("change", () => actions.set("shared_scale", this.sharedInput.checked));
    this.specialInput.addEventListener("change", () => actions.set("show_special", this.specialInput.checked));
    this.producingInput.addEventListener("change", () => actions.set("producing", this.producingInput.checked));
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
    this.styleSelect.value = model.get("style");
    this.opacityInput.value = String(model.get("opacity"));
    this.smoothInput.checked = model.get("smooth");
    this.sharedInput.checked = model.get("shared_scale");
    this.specialInput.checked = model.get("show_special");
    this.producingInput.checked = model.get("producing");
    this.unitSelect.value = model.get("unit");
    this.unitSelect.disabled = model.get("relative"); // a ratio is the same in either unit
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
    /** @type {HTMLElement} */ (control.parentElement).hidden = hidden;
  }

  /**
   * @param {string} label
   * @param {string} className
   * @param {string} description
   */
  addSelect(label, className, description) {
    const select = element("select", className, { "aria-label": description });
    this.addControl(label, select, false);
    return select;
  }

  /**
   * @param {string} label
   * @param {string} className
   * @param {string} type
   * @param {string} description
   */
  addInput(label, className, type, description) {
    const input = element("input", className, { type, "aria-label": description });
    this.addControl(label, input, type === "checkbox");
    return input;
  }

  /**
   * @param {string} label
   * @param {HTMLElement} control
   * @param {boolean} labelAfter  checkboxes come before their label
   */
  addControl(label, control, labelAfter) {
    const wrapper = element("label", "qvl-control");
    const text = element("span", "qvl-control-label");
    text.textContent = label;
    if (labelAfter) wrapper.append(control, text);
    else wrapper.append(text, control);
    this.element.append(wrapper);
  }
}

/**
 * Fill a menu with `choices` (only when they changed) and select `value`.
 * @param {HTMLSelectElement} select
 * @param {import("./state.js").Choice[]} choices
 * @param {(choice: import("./state.js").Choice) => string} label
 * @param {import("./state.js").Choice} value
 */
function fillOptions(select, choices, label, value) {
  const wanted = choices.map(String).join("|");
  if (select.dataset.choices !== wanted) {
    select.replaceChildren(...choices.map((choice) => new Option(label(choice), String(choice))));
    select.dataset.choices = wanted;
  }
  select.value = String(value);
}
