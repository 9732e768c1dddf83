// A small event emitter: on() returns an unsubscribe function; handlers compose.

export class Emitter {
  constructor() {
    /** @type {Map<string, Set<Function>>} */
    this._handlers = new Map();
    /** @type {Set<Function>} */
    this._any = new Set();
    /** Called with (error, event) when a handler throws; the others still run. */
    this.onHandlerError = (error, event) => console.error(`[peerpyrtc] handler for "${event}" threw`, error);
  }

  on(event, handler) {
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    let set = this._handlers.get(event);
    if (!set) this._handlers.set(event, (set = new Set()));
    // wrap so the same function registered twice runs twice and unsubscribes once
    const entry = (...args) => handler(...args);
    entry.original = handler;
    set.add(entry);
    return () => { set.delete(entry); };
  }

  once(event, handler) {
    const off = this.on(event, (...args) => { off(); handler(...args); });
    return off;
  }

  off(event, handler) {
    if (event === undefined) { this._handlers.clear(); this._any.clear(); return; }
    const set = this._handlers.get(event);
    if (!set) return;
    if (handler === undefined) { this._handlers.delete(event); return; }
    for (const entry of set) {
      if (entry.original === handler || entry === handler) { set.delete(entry); return; }
    }
  }

  onAny(handler) {
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    const entry = (...args) => handler(...args);
    this._any.add(entry);
    return () => { this._any.delete(entry); };
  }

  listenerCount(event) {
    return this._handlers.get(event)?.size ?? 0;
  }

  emit(event, ...args) {
    const set = this._handlers.get(event);
    if (set) for (const entry of [...set]) this._call(entry, event, args);
    for (const entry of [...this._any]) this._call(entry, event, [event, ...args]);
  }

  _call(entry, event, args) {
    try {
      entry(...args);
    } catch (error) {
      this.onHandlerError(error, event);
    }
  }
}
