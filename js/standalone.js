// A model with anywidget's interface that lives in the page: for the one-file HTML export and for tests.
// `onSave(changes, apply)` plays the kernel's part: it receives what the view changed and may answer with
// changes of its own (e.g. a new maps payload), applied through `apply`.
// The views use traits only: `send` (anywidget's custom messages, which some hosts lack) only records what it
// is given in `sent`, so tests can check that nothing ever calls it.

/**
 * @param {Record<string, any>} state  initial trait values (bytes as DataView)
 * @param {{onSave?: (changes: Record<string, any>, apply: (changes: Record<string, any>) => void) => void}} [options]
 */
export function createModel(state, options = {}) {
  /** @type {Map<string, Set<Function>>} */
  const listeners = new Map();
  /** @type {Record<string, any>} */
  let pending = {};
  /** @type {any[]} */
  const sent = [];

  /** @param {string} name */
  const emit = (name) => {
    for (const callback of [...(listeners.get(`change:${name}`) ?? [])]) callback();
  };

  /** @param {Record<string, any>} changes */
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
      if (!listeners.has(event)) listeners.set(event, new Set());
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
    apply,
  };
}
