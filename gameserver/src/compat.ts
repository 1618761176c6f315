/**
 * Node < 22 compatibility. @colyseus/core 0.18 reads the global `WebSocket` (its `OPEN`
 * constant, when a client reconnects), which Node only has from version 22; this project
 * supports Node >= 20.17. Where it is missing, install the `ws` package's class (the same
 * one the Colyseus transport and client SDK use on Node) as the global. Import this module
 * before anything from Colyseus handles a reconnection (room.ts imports it).
 */
import { WebSocket as NodeWebSocket } from 'ws';

const g = globalThis as { WebSocket?: unknown };
if (typeof g.WebSocket === 'undefined') g.WebSocket = NodeWebSocket;

export {};
