// The anywidget entry point: one AttentionView per displayed view of the model.

import { AttentionView } from "./view.js";

/**
 * @param {{model: import("./state.js").Model, el: HTMLElement}} context
 * @returns {() => void} cleanup, called when the view is removed
 */
function render({ model, el }) {
  const view = new AttentionView(model, el);
  return () => view.destroy();
}

export default { render };
