// The seed README's snippets, typed. `npm run typecheck` must pass; the @ts-expect-error
// lines must stay errors (they prove the types are not `any`).
import {
  WebRTCConnection, WebRTCRoomManager, PeerPyRTCError, ErrorCodes, type Peer, type ConnectionStatus,
} from 'peerpyrtc-client';

async function single(): Promise<void> {
  const rtc = new WebRTCConnection('game-room', { debug: true, signalingUrl: 'http://localhost:5000' });
  rtc.onMessage = (senderId, message, event) => {
    if (event) console.log(`Event [${event}]:`, message);
    else console.log(`Message from ${senderId}:`, message);
  };
  rtc.onPeerJoined = (peer: Peer) => console.log(`${peer.id} joined! Host: ${peer.isHost}`);
  rtc.onPeerLeft = (peer) => console.log(`${peer.id} left`);
  rtc.onStatusChange = (status: ConnectionStatus) => console.log(status);
  rtc.onError = (error) => { if (error.code === ErrorCodes.ERR_RECONNECT_FAILED) console.log('gave up'); };
  rtc.onError = (error) => {
    if (error.code === ErrorCodes.ERR_TURN_AUTH) console.log(error.url, error.iceStatus?.toFixed(0));
  };
  rtc.onOpen = () => {
    console.log('Connected! Peers:', rtc.getPeerCount());
    rtc.sendMessage('Hello everyone!');
    rtc.emit('player-move', { x: 5, y: 3 });
    rtc.emit('whisper', 'hi', { to: 'peer-2' });
    rtc.broadcast('game-start', { level: 1 });
  };
  const off: () => void = rtc.on('player-move', (senderId: string, data) => console.log(senderId, data));
  off();
  rtc.lifecycle.on('room-update', (peers) => console.log(peers.length));
  const connection: WebRTCConnection = await rtc.connect();
  const host: boolean = connection.isRoomHost();
  const peers: Peer[] = rtc.getRoomPeers();
  const direct: boolean = peers.some((p) => p.isDirect === true) && rtc.topology === 'mesh';
  console.log(direct);
  // @ts-expect-error topology is a known string union
  const t: 'p2p' = rtc.topology;
  console.log(t);
  console.log(host, peers, rtc.isConnected(), rtc.getConnectionStatus());
  await rtc.closeConnection();
  // @ts-expect-error the event name is required
  rtc.emit();
  // @ts-expect-error status is a known string union
  const s: 'nope' = rtc.getConnectionStatus();
  console.log(s);
}

async function multi(): Promise<void> {
  const manager = new WebRTCRoomManager('user123', { debug: true });
  manager.on('chat-message', (roomId, senderId, message) => console.log(roomId, senderId, message));
  manager.onRoom('lobby', 'player-joined', (roomId, senderId, data) => console.log(roomId, senderId, data));
  const results = await manager.joinRooms(['lobby', 'game-1', 'chat-general']);
  for (const r of results) if (!r.success) console.log(r.roomId, r.error?.message);
  await manager.autoEmit('new-room', 'welcome', { user: 'Alice' });
  const rooms: string[] = manager.broadcastToAll('announcement', { text: 'maintenance' });
  manager.emit('lobby', 'message', { text: 'Hello room 1' });
  console.log(rooms, manager.getStatus().connectedRooms, manager.getRoomIds(), manager.isConnectedTo('lobby'));
  await manager.leaveAllRooms();
  const err = new PeerPyRTCError('ERR_CLOSED', 'closed');
  console.log(err.code);
}

void single;
void multi;

interface GameEvents {
  move: { x: number; y: number };
  chat: string;
}

function typedEvents(): void {
  const rtc = new WebRTCConnection<GameEvents>('game');
  rtc.on('move', (senderId, data) => console.log(senderId, data.x + data.y));
  rtc.on('message', (senderId, text) => console.log(text.toUpperCase()));
  rtc.emit('move', { x: 1, y: 2 }, { to: 'peer-2' });
  rtc.broadcast('chat', 'hi');
  // @ts-expect-error the data of an event is checked against the map
  rtc.emit('move', { x: 'one' });
  // @ts-expect-error only events of the map can be emitted
  rtc.broadcast('jump', 1);
  // @ts-expect-error handlers get the event's data type
  rtc.on('chat', (senderId, data: number) => console.log(data));
  rtc.lifecycle.on('peer-left', (peer) => console.log(peer.id, peer.isHost, peer.reason));
  rtc.lifecycle.on('close', (reason) => console.log(reason.length));
  // @ts-expect-error lifecycle events are a known set
  rtc.lifecycle.on('opened', () => undefined);
  // @ts-expect-error and their handlers' arguments are typed
  rtc.lifecycle.on('status', (status: number) => console.log(status));
  const plain = new WebRTCConnection('any');
  plain.emit('anything', { free: true }); // without a map, any event and data
}

void typedEvents;
