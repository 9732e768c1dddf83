// Heartbeat: ping a quiet server, and call the connection lost when it stays silent.
// The server pings a quiet peer every 4 s, so a live server is never silent this long.

export const HEARTBEAT_INTERVAL = 6000;
export const HEARTBEAT_TIMEOUT = 12000;

export class Heartbeat {
  /**
   * @param {() => void} ping send a ping
   * @param {(reason: string) => void} lost the server has been silent too long
   */
  constructor(ping, lost, { interval = HEARTBEAT_INTERVAL, timeout = HEARTBEAT_TIMEOUT, tick = 1000 } = {}) {
    Object.assign(this, { ping, lost, interval, timeout, tick });
    this._timer = null;
    this._lastHeard = 0;
  }

  start() {
    this.stop();
    this._lastHeard = Date.now();
    this._timer = setInterval(() => this._tick(), this.tick);
  }

  /** Anything from the server counts. */
  heard() { this._lastHeard = Date.now(); }

  stop() {
    clearInterval(this._timer);
    this._timer = null;
  }

  _tick() {
    const silent = Date.now() - this._lastHeard;
    if (silent > this.timeout) {
      this.stop();
      this.lost(`no word from the server for ${silent} ms`);
    } else if (silent > this.interval) {
      this.ping();
    }
  }
}
