/**
 * @colyseus/sdk picks its WebSocket class once, when it is first evaluated: Node's built-in
 * one (undici's, present from Node 22) when there is one, else the `ws` package's. A test that
 * stops a client from reading (`transport.ws.pause()`, to fill the server's send buffer)
 * needs `ws`'s, which has pause/resume; the built-in one has no way to stop reading. Import
 * this module before anything that imports @colyseus/sdk (or @colyseus/testing), and that
 * test file's clients are `ws` clients, as they are on a Node without a built-in WebSocket.
 */
import { WebSocket as NodeWebSocket } from 'ws';

(globalThis as { WebSocket?: unknown }).WebSocket = NodeWebSocket;

export {};
