// Reconnection delays: every retry is jittered, later ones grow, all are capped.

export const MAX_RECONNECT_DELAY = 30000;

/**
 * Delay before reconnection attempt `attempt` (1-based): `base`, doubling per attempt, capped at
 * MAX_RECONNECT_DELAY, each with +-25 % jitter so that the tabs of a restarted server do not all
 * come back at the same instant.
 * @param {number} attempt
 * @param {number} base the reconnectDelay option, in ms
 * @param {() => number} [random] a source in [0, 1)
 */
export function reconnectDelay(attempt, base, random = Math.random) {
  const grown = Math.min(base * 2 ** (Math.max(1, attempt) - 1), MAX_RECONNECT_DELAY);
  return Math.round(grown * (0.75 + 0.5 * random()));
}

/**
 * Run `attempt` until it succeeds, again after a short jittered backoff (50 ms doubling to 1 s)
 * while `retryable(error)` says so and `timeoutMs` allows.
 */
export async function retry(attempt, retryable, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    try {
      return await attempt();
    } catch (error) {
      const wait = delay * (0.5 + Math.random());
      if (!retryable(error) || Date.now() + wait > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
