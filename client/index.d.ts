// Type definitions for peerpyrtc-client (hand-written; checked by types-test/).

export type ErrorCode =
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_SIGNALING'
  | 'ERR_PEER_ID_TAKEN'
  /** The room (or the server) is full: final, connect() does not retry it. */
  | 'ERR_ROOM_FULL'
  | 'ERR_FORBIDDEN'
  | 'ERR_TIMEOUT'
  | 'ERR_CONNECTION_FAILED'
  | 'ERR_RECONNECT_FAILED'
  | 'ERR_CLOSED'
  | 'ERR_QUEUE_FULL'
  | 'ERR_TOO_LARGE'
  | 'ERR_NOT_CONNECTED'
  | 'ERR_SERVER'
  /** A TURN server refused the credentials (wrong, forged or expired). */
  | 'ERR_TURN_AUTH'
  /** A STUN/TURN server did not answer, refused the connection, or TLS failed. */
  | 'ERR_ICE_SERVER_UNREACHABLE'
  /** A STUN/TURN server refused otherwise (see iceStatus). */
  | 'ERR_ICE_SERVER';

export declare const ErrorCodes: Readonly<{ [K in ErrorCode]: K }>;

export declare class PeerPyRTCError extends Error {
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>);
  readonly code: ErrorCode;
  /** HTTP status, for signalling errors. */
  readonly status?: number;
  /** The server's own error code, for errors the server reported. */
  readonly serverCode?: string;
  /** For ERR_TURN_AUTH / ERR_ICE_SERVER*: the STUN/TURN server's URL and its error code. */
  readonly url?: string;
  readonly iceStatus?: number;
}

export type ConnectionStatus =
  | 'disconnected'
  | 'connecting'
  | 'connected'
  | 'reconnecting'
  | 'closed'
  | 'failed';

/** 'relay': every message through the server; 'mesh': peers also connect directly. */
export type Topology = 'relay' | 'mesh';

export interface Peer {
  id: string;
  isHost: boolean;
  /** When the peer joined, in ms since the epoch (server clock). */
  joinedAt: number;
  /** True for this connection's own entry (getRoomPeers only). */
  isSelf?: boolean;
  /** Messages to this peer travel on a direct link (mesh rooms; getRoomPeers only). */
  isDirect?: boolean;
  /** Why it left (onPeerLeft only): 'left', 'closed', 'timeout', a kick's reason, ... */
  reason?: string;
  userAgent?: string;
  [info: string]: unknown;
}

export interface ConnectionOptions {
  /** This peer's id; generated when absent. */
  peerId?: string;
  debug?: boolean;
  /** Reconnection attempts after a lost connection (default: unlimited within reconnectTimeout). */
  maxReconnectAttempts?: number;
  /** Delay before the first reconnection attempt in ms (default 2000); later ones double (capped at 30 s); every one has +-25 % jitter. */
  reconnectDelay?: number;
  /** How long to keep trying to reconnect after a loss, in ms (default 120000). */
  reconnectTimeout?: number;
  /** Add navigator.userAgent to the info other peers see (default false). */
  sendUserAgent?: boolean;
  /** STUN/TURN servers (for the server connection and, in mesh rooms, direct links); none by default. */
  iceServers?: RTCIceServer[];
  /** Ask the server for ICE servers (POST /ice: STUN, and TURN credentials minted for this peer) before connecting (default true). */
  fetchIceServers?: boolean;
  /** 'relay' connects to the server only through TURN (default 'all'). */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** 'relay' sends direct (mesh) links only through TURN: other peers never see this one's addresses (default 'all'). */
  meshIceTransportPolicy?: RTCIceTransportPolicy;
  /** Base URL of the signalling routes (default: same origin). */
  signalingUrl?: string;
  /** A small object shown to other peers, such as a display name. */
  peerInfo?: Record<string, unknown>;
  /** Timeout of each signalling request in ms (default 10000). */
  requestTimeout?: number;
  /** Time for the channel to open after the answer, in ms (default 15000). */
  connectTimeout?: number;
  /** Messages kept while not connected (default 1000). */
  maxQueuedMessages?: number;
  /** Extra headers on the signalling requests (an Authorization token, say). */
  headers?: Record<string, string>;
  /** Makes the transport of each connection attempt (default: the relay transport). */
  createTransport?: (init: TransportInit) => Transport;
}

export type Unsubscribe = () => void;
export type EventHandler = (senderId: string, data: any) => void;

export declare class Emitter {
  on(event: string, handler: (...args: any[]) => void): Unsubscribe;
  once(event: string, handler: (...args: any[]) => void): Unsubscribe;
  off(event?: string, handler?: (...args: any[]) => void): void;
  onAny(handler: (event: string, ...args: any[]) => void): Unsubscribe;
  emit(event: string, ...args: any[]): void;
  listenerCount(event: string): number;
}

/** The lifecycle events and their handlers' arguments. */
export interface LifecycleEventMap {
  open: [];
  close: [reason: string];
  error: [error: PeerPyRTCError];
  message: [senderId: string, message: any, event?: string];
  'peer-joined': [peer: Peer];
  'peer-left': [peer: Peer];
  'room-update': [peers: Peer[]];
  status: [status: ConnectionStatus];
  /** A large message coming in: `event` is undefined for `sendMessage`; ends with received === total. */
  incoming: [senderId: string, event: string | undefined, receivedBytes: number, totalBytes: number];
}

export interface LifecycleEvents {
  on<E extends keyof LifecycleEventMap>(event: E, handler: (...args: LifecycleEventMap[E]) => void): Unsubscribe;
  once<E extends keyof LifecycleEventMap>(event: E, handler: (...args: LifecycleEventMap[E]) => void): Unsubscribe;
  off<E extends keyof LifecycleEventMap>(event?: E, handler?: (...args: LifecycleEventMap[E]) => void): void;
}

/**
 * What a transport gives the facade (the relay transport by default; a fake one in tests).
 * `createTransport(init)` in the options makes one per connection attempt.
 */
export interface Transport {
  readonly isOpen: boolean;
  readonly bufferedAmount: number;
  /** Offer/answer; resolves with the session the server confirmed. */
  open(info: Record<string, unknown>): Promise<string>;
  send(frame: string | Uint8Array): void;
  /** A volatile frame now, or dropped (false) while behind; without it volatile messages are not sent. */
  sendVolatile?(frame: string | Uint8Array): boolean;
  /** Where the channel's bufferedamountlow fires (the outbox lowers it while only large messages wait). */
  setLowWater?(bytes: number): void;
  /** Goodbye over the channel; true once the server closed it after reading everything. */
  sayGoodbye(timeout?: number): Promise<boolean>;
  leave(): Promise<unknown>;
  goodbyeOnUnload(): void;
  /** Stop listening but keep the connection open (a reconnect in progress). */
  detach(): void;
  close(): void;
}

export interface TransportInit {
  room: string;
  peerId: string;
  session: string;
  options: ConnectionOptions;
  onFrame(frame: string | ArrayBuffer): void;
  onLost(reason: string): void;
  onDrain(): void;
  log(...args: unknown[]): void;
}

/** Options of a send: `onProgress(sent, total)` as a large message's frames leave. */
export interface SendOptions {
  onProgress?: (sentBytes: number, totalBytes: number) => void;
}

/**
 * One peer in one room. `Events` maps your event names to their data, so `on`, `emit` and
 * `broadcast` are checked: `new WebRTCConnection<{ move: { x: number } }>('game')`.
 */
export declare class WebRTCConnection<Events extends Record<string, any> = Record<string, any>> {
  constructor(roomName: string, options?: ConnectionOptions);
  readonly roomName: string;
  readonly peerId: string;
  readonly hostId: string | null;
  /** Why the server closed the connection, if it said. */
  readonly closeReason: string | null;
  /** Extra lifecycle listeners that compose with the on* callbacks. */
  readonly lifecycle: LifecycleEvents;

  connect(): Promise<WebRTCConnection>;
  closeConnection(): Promise<void>;
  isConnected(): boolean;
  getConnectionStatus(): ConnectionStatus;

  sendMessage(message: string | object | ArrayBuffer | ArrayBufferView | Blob, options?: SendOptions): Promise<void>;
  emit<E extends keyof Events & string>(event: E, data?: Events[E], options?: SendOptions & { to?: string }): Promise<void>;
  /** The unordered channel without retransmissions: dropped rather than late (one frame, 16 KiB at most). */
  readonly volatile: { emit<E extends keyof Events & string>(event: E, data?: Events[E], options?: { to?: string }): Promise<void> };
  broadcast<E extends keyof Events & string>(event: E, data?: Events[E], options?: SendOptions): Promise<void>;

  getRoomPeers(): Peer[];
  getPeerCount(): number;
  isRoomHost(): boolean;
  /** How this room's messages travel, as the server decided: through it, or peer to peer (null before connecting). */
  readonly topology: Topology | null;
  /** Diagnostics (not a stable API): the current transport (its `pc`: `RTCPeerConnection`), or null. */
  readonly transport: { readonly pc: RTCPeerConnection | null; onLost(reason: string): void } | null;
  /** Diagnostics (not a stable API): the mesh's direct links by peer id. */
  readonly mesh: { readonly pairs: Map<string, { link: { pc: RTCPeerConnection } | null }> };

  on<E extends (keyof Events & string) | 'message'>(
    event: E, handler: (senderId: string, data: E extends keyof Events ? Events[E] : string) => void): Unsubscribe;
  once<E extends (keyof Events & string) | 'message'>(
    event: E, handler: (senderId: string, data: E extends keyof Events ? Events[E] : string) => void): Unsubscribe;
  off(event: string, handler?: EventHandler): void;
  onAny(handler: (event: string, senderId: string, data: any) => void): Unsubscribe;

  onOpen: (() => void) | null;
  onClose: ((reason: string) => void) | null;
  onError: ((error: PeerPyRTCError) => void) | null;
  onMessage: ((senderId: string, message: any, event?: string) => void) | null;
  onPeerJoined: ((peer: Peer) => void) | null;
  onPeerLeft: ((peer: Peer) => void) | null;
  onRoomUpdate: ((peers: Peer[]) => void) | null;
  onStatusChange: ((status: ConnectionStatus) => void) | null;
}

export type RoomEventHandler = (roomId: string, senderId: string, data: any) => void;

export interface JoinResult {
  roomId: string;
  success: boolean;
  connection: WebRTCConnection | null;
  error: PeerPyRTCError | Error | null;
}

export interface RoomManagerStatus {
  userId: string;
  rooms: Record<string, { status: ConnectionStatus; peers: number; isHost: boolean }>;
  totalRooms: number;
  connectedRooms: number;
}

export declare class WebRTCRoomManager {
  constructor(userId: string, options?: Omit<ConnectionOptions, 'peerId'>);
  readonly userId: string;

  on(event: string, handler: RoomEventHandler): Unsubscribe;
  once(event: string, handler: RoomEventHandler): Unsubscribe;
  off(event: string, handler?: RoomEventHandler): void;
  onRoom(roomId: string, event: string, handler: RoomEventHandler): Unsubscribe;
  offRoom(roomId: string, event: string, handler?: RoomEventHandler): void;

  joinRoom(roomId: string, options?: Omit<ConnectionOptions, 'peerId'>): Promise<WebRTCConnection>;
  joinRooms(roomIds: string[], options?: Omit<ConnectionOptions, 'peerId'>): Promise<JoinResult[]>;
  leaveRoom(roomId: string): Promise<boolean>;
  leaveAllRooms(): Promise<void>;

  emit(roomId: string, event: string, data?: unknown, options?: { to?: string }): void;
  sendMessage(roomId: string, message: string | object): void;
  broadcast(roomId: string, event: string, data?: unknown): void;
  autoEmit(roomId: string, event: string, data?: unknown, options?: { to?: string }): Promise<WebRTCConnection>;
  broadcastToAll(event: string, data?: unknown): string[];

  getRoom(roomId: string): WebRTCConnection | null;
  getRoomIds(): string[];
  isConnectedTo(roomId: string): boolean;
  getStatus(): RoomManagerStatus;

  onRoomJoined: ((roomId: string, connection: WebRTCConnection) => void) | null;
  onRoomLeft: ((roomId: string) => void) | null;
  onConnectionChange: ((roomId: string, status: ConnectionStatus) => void) | null;
}

export declare const PROTOCOL_VERSION: 1;
export declare const DEFAULTS: Readonly<Required<Omit<ConnectionOptions, 'peerId'>>>;
export declare function generatePeerId(): string;
export declare function reconnectDelay(attempt: number, base: number, random?: () => number): number;
