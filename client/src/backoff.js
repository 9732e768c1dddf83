// Reconnection delays: the first retry waits `base`; later ones grow with jitter.

export const MAX_RECONNECT_DELAY = 30000;

/**
 * Delay before reconnection attempt `attempt` (1-based).
 * @param {number} attempt
 * @param {number} base the reconnectDelay option, in ms
 * @param {() => number} [random] a source in [0, 1)
 */
export function reconnectDelay(attempt, base, random = Math.random) {
  if (attempt <= 1) return base;
  const grown = Math.min(base * 2 ** (attempt - 1), MAX_RECONNECT_DELAY);
  return Math.round(grown * (0.75 + 0.5 * random()));
}
