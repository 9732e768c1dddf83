// What the server says, applied to a connection: relayed messages become events, system
// envelopes feed the room state (room-state.js), close notices and pings are answered.

import { decodeBody, parseFrame } from './binary.js';
import { ErrorCodes, PeerPyRTCError } from './errors.js';
import { Mesh } from './mesh.js';
import { decodeFrame } from './protocol.js';

/** The mesh of a connection: its direct links speak through the connection's relay. */
export function createMesh(conn) {
  return new Mesh({
    selfId: conn.peerId,
    members: () => [...conn._room.peers.keys()],
    signal: (to, d) => {
      try { conn._outbox.put(JSON.stringify({ t: 'sig', to, d })); } catch (e) { conn._log('signal not sent', e); }
    },
    deliver: (from, env) => onEnvelope(conn, { ...env, from }),
    config: () => ({
      iceServers: conn._transport?.iceServers || conn.options.iceServers || [],
      iceTransportPolicy: conn.options.meshIceTransportPolicy || 'all',
    }),
    changed: () => conn._roomUpdate(),
    log: (...args) => conn._log(...args),
  });
}

/** Decode one server frame and apply each envelope to the connection `conn`. */
export function receiveFrame(conn, frame) {
  if (typeof frame !== 'string') {
    try { receiveBinary(conn, frame); } catch (error) { conn._log('bad binary frame from server', error); }
    return;
  }
  let envelopes;
  try {
    envelopes = decodeFrame(frame);
  } catch (error) {
    conn._log('bad frame from server', error);
    return;
  }
  for (const env of envelopes) {
    try {
      onEnvelope(conn, env);
    } catch (error) {
      conn._log('malformed envelope from server', env, error);
    }
  }
}

/** A binary frame: a whole message, or a frame of a large one (delivered once whole). */
function receiveBinary(conn, frame) {
  const { header, payload } = parseFrame(frame);
  const from = typeof header.from === 'string' ? header.from : '';
  if (header.t !== 'part' && header.m === undefined) {
    onEnvelope(conn, { t: header.t, e: header.e, from, d: decodeBody(header, payload) });
    return;
  }
  const { first, got, body } = conn._incoming.add(from, header, payload);
  conn.lifecycle.emit('incoming', from, first.t === 'msg' ? undefined : first.e, got, first.z);
  if (body) onEnvelope(conn, { t: first.t, e: first.e, from, d: decodeBody(first, body) });
}

function onEnvelope(conn, env) {
  const room = conn._room;
  switch (env.t) {
    case 'msg':
      conn._fire('onMessage', 'message', env.from, env.d, undefined);
      conn._events.emit('message', env.from, env.d);
      break;
    case 'emit':
    case 'bcast':
      conn._fire('onMessage', 'message', env.from, env.d, env.e);
      conn._events.emit(env.e, env.from, env.d);
      break;
    case 'welcome':
      conn._mayReconnect = true;
      conn._maxBody = Number.isSafeInteger(env.maxBodyBytes) ? env.maxBodyBytes : 0;
      room.welcome(env);
      conn._mesh.configure(env);
      if (conn._welcome) { conn._welcome.resolve(); conn._welcome = null; }
      conn._roomUpdate();
      break;
    case 'joined':
      conn._fire('onPeerJoined', 'peer-joined', room.joined(env));
      conn._mesh.update();
      conn._roomUpdate();
      break;
    case 'left': // the role it had when it left; the new host is announced after this
      conn._incoming.dropSender(env.peer?.id);
      conn._fire('onPeerLeft', 'peer-left', room.left(env));
      conn._mesh.update();
      conn._roomUpdate();
      break;
    case 'host':
      room.host(env);
      conn._roomUpdate();
      break;
    case 'sig':
      conn._mesh.onSignal(env.from, env.d);
      break;
    case 'error':
      conn._fire('onError', 'error',
        new PeerPyRTCError(ErrorCodes.ERR_SERVER, env.message || 'server error', { serverCode: env.code }));
      break;
    case 'close':
      conn._log('server is closing the connection:', env.reason);
      conn.closeReason = env.reason;
      conn._mayReconnect = !!env.reconnect;
      conn._lost(conn._generation, env.reason || 'closed by the server');
      break;
    case 'abort': // the sender left mid-message
      conn._incoming.dropMessage(env.from, env.m);
      break;
    case 'ping':
      try { conn._transport.send(JSON.stringify({ t: 'pong', d: env.d ?? null })); } catch { /* closing */ }
      break;
    default:
      break; // unknown types are ignored: newer servers may send more
  }
}
