// The toolbar: layer and head menus, the unit, baseline-relative maps, visual sinks, the head overview, colour map,
// overlay style, opacity, smooth cells, shared scale, template tokens, producing steps, Save PNG. Every control says
// what it does in a tooltip (`HELP`), on the control and on its name. It shows the state's choices and reports the
// user's; the view decides what they change.

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
 * @typedef {"colormap" | "opacity" | "smooth" | "overlay_style" | "shared_scale" | "show_special" | "producing" | "unit" | "relative" |
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
/** The producing step menu: the option's value (`String` of the `producing` trait) and its words. */
const PRODUCING = [
  ["true", "the model's words"],
  ["all", "every token"],
  ["false", "off"],
];

/**
 * Each control's tooltip: what it does, for a newcomer.
 * @type {Record<string, string>}
 */
export const HELP = {
  layer: "A layer is one of the model's stacked processing steps; each reads all earlier tokens",
  head: "A head is one of the parallel attention patterns inside a layer; mean / max combine them",
  unit:
    "probability: each cell's share of the token's attention; × uniform: that share times the number of image " +
    "tokens (1 = attention spread evenly), comparable across image sizes",
  drop:
    "Visual sinks: image tokens with a massive activation that draw attention whatever the question (See What You " +
    "Are Told, ICLR 2025). Hidden: set to 0 in every head, the rest scaled to keep each token's share on the image",
  mark: "Outline the visual sinks of the chosen layers on the pictures",
  heads:
    "A layers × heads grid for the tokens on show: each head's share of attention on the image, or its focus " +
    "(1 − the spatial entropy of its map); click a head to show it",
  colormap: "The colour scale of the maps and of the bar under the pictures: from no attention to the top of the scale",
  style:
    "heat: the map in colour, transparent where attention is low; contour lines: lines around the smallest " +
    "regions holding 25 %, 50 % and 75 % of the attention, over the untouched picture (they print in greyscale)",
  opacity:
    "How much the map covers the picture where attention is at the top of the scale (it fades to transparent " +
    "where attention is low): 0 shows the picture alone",
  smooth: "On: the map is smoothed between cells; off: one block per image token, the grid the model reads",
  shared:
    "On: every token's map on one colour scale (the largest value of any token), so tokens compare; off: each map " +
    "on its own scale, from 0 to its largest value",
  special: "Show the tokens the chat template adds around the text (such as <|im_start|>); hidden by default",
  producing:
    "Which row a token shows. The model's words: a word the model wrote (its thinking, its answer) shows the step " +
    "that wrote it, where it looked while choosing that word; prompt words show their own row. Every token: prompt " +
    "words too show the step that predicted them (the token before). Off: every token its own row. The caption " +
    "says which row is shown",
  save: "Save each picture with its map laid over it as a PNG file, at the picture's own size",
};

export class Toolbar {
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
      "÷ baseline",
      "qvl-relative",
      "checkbox",
      "Divide by the baseline prompt's map",
      `Each map divided by the map of the baseline prompt “${options.baseline ?? ""}” at the same layers and ` +
        "heads (MLLMs Know Where to Look, ICLR 2025): above 1 where this prompt looks more than the baseline",
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
      HELP.producing,
    );
    for (const [value, words] of PRODUCING) this.producingSelect.append(new Option(words, value));
    this.hide(this.producingSelect, !options.generated);
    this.saveButton = element("button", "qvl-save", {
      type: "button",
      "aria-label": "Save image with overlay as PNG",
      title: HELP.save,
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
    this.producingSelect.addEventListener("change", () =>
      actions.set("producing", producingOf(this.producingSelect.value)),
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
}

/**
 * The `producing` trait a producing menu option stands for.
 * @param {string} value  "true", "all" or "false"
 * @returns {import("./state.js").Producing}
 */
function producingOf(value) {
  return value === "all" ? "all" : value === "true";
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
