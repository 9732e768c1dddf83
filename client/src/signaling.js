// HTTP signalling: POST JSON with a timeout, errors that say what happened.

import { ErrorCodes, PeerPyRTCError } from './errors.js';

const STATUS_CODES = { 403: ErrorCodes.ERR_FORBIDDEN, 409: ErrorCodes.ERR_PEER_ID_TAKEN, 413: ErrorCodes.ERR_TOO_LARGE };
// the server's own codes that the client reports as they are (a 429 is a room full or a rate limit)
const SERVER_CODES = { ERR_ROOM_FULL: ErrorCodes.ERR_ROOM_FULL };

/** Resolve `path` under the signalling base URL ('' = same origin). */
export function signalingUrl(base, path) {
  if (!base) return `/${path}`;
  return `${base.replace(/\/+$/, '')}/${path}`;
}

/**
 * POST `payload` as JSON and return the JSON answer.
 * @param {string} url
 * @param {object} payload
 * @param {{timeout?: number, headers?: Record<string, string>, fetch?: typeof fetch}} [options]
 */
export async function postJSON(url, payload, { timeout = 10000, headers = {}, fetch: fetchImpl = globalThis.fetch } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  let response;
  let text;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/json' },
      body: JSON.stringify(payload),
      signal: controller.signal,
    });
    text = await response.text();
  } catch (error) {
    if (controller.signal.aborted) {
      throw new PeerPyRTCError(ErrorCodes.ERR_TIMEOUT, `${url} did not answer within ${timeout} ms`, { url });
    }
    throw new PeerPyRTCError(ErrorCodes.ERR_SIGNALING, `cannot reach ${url}: ${error.message}`, { url, cause: error });
  } finally {
    clearTimeout(timer);
  }
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const status = response.status;
    const code = SERVER_CODES[body?.code] || STATUS_CODES[status] || ErrorCodes.ERR_SIGNALING;
    if (body && typeof body.error === 'string') {
      throw new PeerPyRTCError(code, `${url} answered ${status}: ${body.error}`, { status, url, serverCode: body.code });
    }
    const snippet = (text || '').replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 160);
    throw new PeerPyRTCError(code, `${url} answered ${status} (not JSON): ${snippet}`, { status, url });
  }
  if (body === undefined) {
    throw new PeerPyRTCError(ErrorCodes.ERR_SIGNALING, `${url} answered with a body that is not JSON`, { url });
  }
  return body;
}
