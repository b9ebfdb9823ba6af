// The anywidget entry point of both widgets: one AttentionView per displayed view of an attention widget's model,
// one StudyView (a table of examples above an AttentionView) per view of a study widget's, known by its rows.

import { StudyView } from "./study.js";
import { AttentionView } from "./view.js";

/**
 * @param {{model: import("./state.js").Model, el: HTMLElement}} context
 * @returns {() => void} cleanup, called when the view is removed
 */
function render({ model, el }) {
  const study = /** @type {import("./study.js").Model} */ (/** @type {unknown} */ (model));
  const view = study.get("examples") === undefined ? new AttentionView(model, el) : new StudyView(study, el);
  return () => view.destroy();
}

export default { render };
