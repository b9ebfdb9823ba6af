// The toolbar: layer and head menus, colour map, opacity, smooth cells, shared scale, template tokens, Save PNG.
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
 * @property {<K extends "colormap" | "opacity" | "smooth" | "shared_scale" | "show_special" | "producing">(name: K,
 *            value: import("./state.js").Traits[K]) => void} set
 * @property {() => void} save
 */

export class Toolbar {
  /**
   * @param {ToolbarActions} actions
   * @param {{generated: boolean}} options  `generated`: the result has tokens the model wrote (its thinking or its
   *   answer): offer the producing switch
   */
  constructor(actions, options) {
    this.element = element("div", "qvl-toolbar", { role: "toolbar", "aria-label": "Attention map controls" });
    this.layerSelect = this.addSelect("Layer", "qvl-layer", "Decoder layer, or the mean / max over layers");
    this.layerSelect.title = "A layer is one of the model's stacked processing steps; each reads all earlier tokens";
    this.headSelect = this.addSelect("Head", "qvl-head", "Attention head, or the mean / max over heads");
    this.headSelect.title = "A head is one of the parallel attention patterns inside a layer";
    this.colormapSelect = this.addSelect("Colours", "qvl-colormap", "Colour map");
    for (const name of COLORMAP_NAMES) this.colormapSelect.append(new Option(name, name));
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
    /** @type {HTMLElement} */ (this.producingInput.parentElement).hidden = !options.generated;
    this.saveButton = element("button", "qvl-save", { type: "button", "aria-label": "Save image with overlay as PNG" });
    this.saveButton.textContent = "Save PNG";
    this.element.append(this.saveButton);

    this.layerSelect.addEventListener("change", () => actions.chooseLayer(parseChoice(this.layerSelect.value)));
    this.headSelect.addEventListener("change", () => actions.chooseHead(parseChoice(this.headSelect.value)));
    this.colormapSelect.addEventListener("change", () => actions.set("colormap", this.colormapSelect.value));
    this.opacityInput.addEventListener("input", () => actions.set("opacity", Number(this.opacityInput.value)));
    this.smoothInput.addEventListener("change", () => actions.set("smooth", this.smoothInput.checked));
    this.sharedInput.addEventListener("change", () => actions.set("shared_scale", this.sharedInput.checked));
    this.specialInput.addEventListener("change", () => actions.set("show_special", this.specialInput.checked));
    this.producingInput.addEventListener("change", () => actions.set("producing", this.producingInput.checked));
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
    this.opacityInput.value = String(model.get("opacity"));
    this.smoothInput.checked = model.get("smooth");
    this.sharedInput.checked = model.get("shared_scale");
    this.specialInput.checked = model.get("show_special");
    this.producingInput.checked = model.get("producing");
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
