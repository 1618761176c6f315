/**
 * Room state, synchronised to every client by Colyseus: poses, the tick, the views' block
 * and frame counters, drop counts. Never pixels (frames go as bytes messages).
 */
import { schema, t, type SchemaType } from '@colyseus/schema';

export const PlayerState = schema(
  {
    /** Foot position (m). */
    x: t.float32(),
    y: t.float32(),
    z: t.float32(),
    /** Radians; yaw 0 faces -Z, pitch > 0 looks up. */
    yaw: t.float32(),
    pitch: t.float32(),
    grounded: t.boolean(),
    /** The view (world session) whose frames this player receives. */
    view: t.string(),
    /** Newest input seq applied by physics. */
    inputSeq: t.uint32(),
    /** Frames sent to / dropped for this player (backpressure). */
    framesSent: t.uint32(),
    dropped: t.uint32(),
    /** False while the player is away within the reconnection grace period. */
    connected: t.boolean(),
    /** A spectator: the session id of the player it watches ('' for a player). */
    spectating: t.string(),
  },
  'PlayerState',
);
export type PlayerState = SchemaType<typeof PlayerState>;

export const ViewState = schema(
  {
    /** 'private' (one player's world) or 'shared' (everyone's). */
    kind: t.string(),
    /** Session id of the player whose motion conditions the view. */
    driver: t.string(),
    /** Blocks delivered, frames produced. */
    blocks: t.uint32(),
    frames: t.uint32(),
    /** Latent frames generated so far. */
    latentFrames: t.uint32(),
    prompt: t.string(),
    promptVersion: t.uint32(),
    /** The session ended (engine error); `error` says why. */
    ended: t.boolean(),
    error: t.string(),
  },
  'ViewState',
);
export type ViewState = SchemaType<typeof ViewState>;

export const WorldState = schema(
  {
    mode: t.string(),
    tick: t.uint32(),
    tickRate: t.uint16(),
    level: t.string(),
    players: t.map(PlayerState),
    views: t.map(ViewState),
  },
  'WorldState',
);
export type WorldState = SchemaType<typeof WorldState>;
