// WebRTCRoomManager: one user in many rooms, with composable handlers.

import { WebRTCConnection } from './connection.js';
import { Emitter } from './emitter.js';
import { ErrorCodes, PeerPyRTCError } from './errors.js';

export class WebRTCRoomManager {
  /**
   * @param {string} userId this user's peer id in every room
   * @param {object} [options] WebRTCConnection options shared by every room
   */
  constructor(userId, options = {}) {
    if (typeof userId !== 'string' || !userId) {
      throw new PeerPyRTCError(ErrorCodes.ERR_INVALID_ARGUMENT, 'userId must be a non-empty string');
    }
    this.userId = userId;
    this.options = { ...options, peerId: userId };
    /** @type {Map<string, WebRTCConnection>} */
    this.rooms = new Map();
    this._pending = new Map();
    this._global = new Emitter();
    /** @type {Map<string, Emitter>} */
    this._perRoom = new Map();
    this._unsubscribe = new Map();
    this.onRoomJoined = null;
    this.onRoomLeft = null;
    this.onConnectionChange = null;
  }

  /** handler(roomId, senderId, data) for `event` in every room ('message' for plain messages). */
  on(event, handler) { return this._global.on(event, handler); }
  once(event, handler) { return this._global.once(event, handler); }
  off(event, handler) { this._global.off(event, handler); }

  /** handler(roomId, senderId, data) for `event` in one room. */
  onRoom(roomId, event, handler) {
    let emitter = this._perRoom.get(roomId);
    if (!emitter) this._perRoom.set(roomId, (emitter = new Emitter()));
    return emitter.on(event, handler);
  }

  offRoom(roomId, event, handler) {
    this._perRoom.get(roomId)?.off(event, handler);
  }

  /** Join one room (or return its live connection). */
  async joinRoom(roomId, options = {}) {
    const existing = this.rooms.get(roomId);
    if (existing && existing.getConnectionStatus() !== 'closed' && existing.getConnectionStatus() !== 'failed') {
      return existing.isConnected() ? existing : existing.connect();
    }
    if (this._pending.has(roomId)) return this._pending.get(roomId);
    const connection = new WebRTCConnection(roomId, { ...this.options, ...options, peerId: this.userId });
    this._wire(roomId, connection);
    const joining = connection.connect().then(
      () => {
        this._pending.delete(roomId);
        this.rooms.set(roomId, connection);
        this._call('onRoomJoined', roomId, connection);
        return connection;
      },
      (error) => {
        this._pending.delete(roomId);
        this._unwire(roomId);
        throw error;
      },
    );
    this._pending.set(roomId, joining);
    return joining;
  }

  /** Join several rooms; one result per room, and one failure does not sink the rest. */
  async joinRooms(roomIds, options = {}) {
    const settled = await Promise.allSettled(roomIds.map((id) => this.joinRoom(id, options)));
    return settled.map((result, i) => ({
      roomId: roomIds[i],
      success: result.status === 'fulfilled',
      connection: result.status === 'fulfilled' ? result.value : null,
      error: result.status === 'rejected' ? result.reason : null,
    }));
  }

  async leaveRoom(roomId) {
    const connection = this.rooms.get(roomId);
    if (!connection) return false;
    this.rooms.delete(roomId);
    this._unwire(roomId);
    await connection.closeConnection();
    this._call('onRoomLeft', roomId);
    return true;
  }

  async leaveAllRooms() {
    await Promise.all([...this.rooms.keys()].map((id) => this.leaveRoom(id)));
  }

  emit(roomId, event, data, options) { this._require(roomId).emit(event, data, options); }
  sendMessage(roomId, message) { this._require(roomId).sendMessage(message); }
  broadcast(roomId, event, data) { this._require(roomId).broadcast(event, data); }

  /** Emit in a room, joining it first if needed. */
  async autoEmit(roomId, event, data, options) {
    const connection = await this.joinRoom(roomId);
    connection.emit(event, data, options);
    return connection;
  }

  /** Broadcast `event` in every connected room. */
  broadcastToAll(event, data) {
    const sent = [];
    for (const [roomId, connection] of this.rooms) {
      if (connection.isConnected()) { connection.broadcast(event, data); sent.push(roomId); }
    }
    return sent;
  }

  getRoom(roomId) { return this.rooms.get(roomId) || null; }
  getRoomIds() { return [...this.rooms.keys()]; }
  isConnectedTo(roomId) { return !!this.rooms.get(roomId)?.isConnected(); }

  getStatus() {
    const rooms = {};
    for (const [roomId, connection] of this.rooms) {
      rooms[roomId] = { status: connection.getConnectionStatus(), peers: connection.getPeerCount(), isHost: connection.isRoomHost() };
    }
    return {
      userId: this.userId,
      rooms,
      totalRooms: this.rooms.size,
      connectedRooms: Object.values(rooms).filter((r) => r.status === 'connected').length,
    };
  }

  _require(roomId) {
    const connection = this.rooms.get(roomId);
    if (!connection) {
      throw new PeerPyRTCError(ErrorCodes.ERR_INVALID_ARGUMENT, `not in room "${roomId}": call joinRoom() first`);
    }
    return connection;
  }

  _wire(roomId, connection) {
    const offs = [
      connection.onAny((event, senderId, data) => {
        this._global.emit(event, roomId, senderId, data);
        this._perRoom.get(roomId)?.emit(event, roomId, senderId, data);
      }),
      connection.lifecycle.on('status', (status) => this._call('onConnectionChange', roomId, status)),
    ];
    this._unsubscribe.set(roomId, offs);
  }

  _unwire(roomId) {
    for (const off of this._unsubscribe.get(roomId) || []) off();
    this._unsubscribe.delete(roomId);
  }

  _call(name, ...args) {
    const callback = this[name];
    if (typeof callback !== 'function') return;
    try { callback.apply(this, args); } catch (error) {
      console.error(`[peerpyrtc] ${name} threw`, error);
    }
  }
}
