/**
 * Server-side records of a WorldRoom: a player (connection, character, input, motion log)
 * and a view (one world-model session with its decoder stream, the players it streams to
 * and the player whose motion drives it).
 */
import type { Client } from '@colyseus/core';

import type { DecoderStream, Pose, Session } from '../../sdk/src/index.js';
import type { Color } from '../../world/src/levels/index.js';
import type { AuthIdentity } from './auth.js';
import type { Conditioning } from '../../world/src/conditioning.js';
import type { Character, CharacterInput, TickMotion } from '../../world/src/physics.js';
import type { PlayerState, ViewState } from './schema.js';

export class PlayerRecord {
  readonly id: string;
  client: Client;
  readonly state: PlayerState;
  /** The player's rapier character; null for a spectator (not in the physics world). */
  readonly character: Character | null;
  /** Session id of the player this one watches (a spectator: no world, no input), else null. */
  readonly spectating: string | null;
  readonly identity: AuthIdentity | null;
  /** Its character's colour in every view that shows it. */
  color: Color = [0.5, 0.5, 0.5];
  /** Held keys and look not yet applied. */
  readonly input: CharacterInput = { keys: 0, lookX: 0, lookY: 0 };
  /** Newest input seq received (-1: none). */
  lastInputSeq = -1;
  /** When it was received (ms, nowMs clock). */
  lastInputAt = 0;
  /** Motion of the ticks since the view last took it. */
  motion: TickMotion[] = [];
  view: WorldView | null = null;
  connected = true;
  /** Sent invalid messages past the limit, or was cut off by the rate limit: no reconnection. */
  abusive = false;
  violations = 0;
  /** Key of the identity's limits (see limits.ts); null when the room has none. */
  limitKey: string | null = null;
  /** Holds a world session of its own (counted against its identity's session cap). */
  ownsSession = false;
  /** Its socket is being replaced by a reconnect with its token (keep the world on this drop). */
  superseded = false;
  framesSent = 0;
  dropped = 0;
  constructor(client: Client, state: PlayerState, character: Character | null, identity: AuthIdentity | null, spectating: string | null = null) {
    this.id = client.sessionId;
    this.client = client;
    this.state = state;
    this.character = character;
    this.spectating = spectating;
    this.identity = identity;
  }
}

/** What a block was made from; carried to its frames' headers. */
export interface BlockMeta {
  block: number;
  tick: number;
  /** Newest input seq of the driver included (-1: none). */
  input: number;
  /** When the server received that input, if the block is the first to include it (ms, nowMs clock), else 0. */
  inputAt: number;
  prompt: number;
  /** Its conditioning (per-frame inputs without the decoder's maps: those are in `frameGeometry`). */
  conditioning: Conditioning;
  /**
   * A geometry decoder's map of each of the block's frames (taken out of its inputs when it
   * is submitted), until delivery hands them to the decodes — each map is then held only
   * until its frame is decoded. null: the model's decoder takes none, or delivery has them.
   */
  frameGeometry: (Float32Array | undefined)[] | null;
  submitted: number;
  stepped: number;
  decoded: number;
  latentFrame: number;
  /** When its first frame is due to leave (ms, nowMs clock; set when it comes out of the engine). */
  dueAt: number;
}

export type ViewKind = 'private' | 'shared';

export class WorldView {
  readonly id: string;
  readonly kind: ViewKind;
  readonly session: Session;
  readonly stream: DecoderStream | null;
  readonly state: ViewState;
  readonly subscribers = new Set<PlayerRecord>();
  driver: PlayerRecord | null = null;
  /** A block is being stepped. */
  busy = false;
  /** Blocks stepped but not yet sent (decode + encode in progress). */
  pendingDeliveries = 0;
  /** Blocks handed to delivery so far (its first is the decoder stream's first). */
  blocksDelivered = 0;
  /** The session failed; nothing more is stepped. */
  ended = false;
  /** The session and stream were closed. */
  closed = false;
  nextBlock = 0;
  frameSeq = 0;
  /** The newest driver input seq a block has carried (for input-to-frame latency). */
  lastBlockInput = -1;
  /**
   * The view's world clock (ms, nowMs clock): the end of the world-time span of the newest
   * block that came out of the engine (0: none yet). Each block's frames are due over its
   * span; the next block is submitted just in time for its frames to be due at this clock.
   */
  clock = 0;
  /** When the engine call now running was submitted (ms). */
  callSubmittedAt = 0;
  /** Latent frames of the block being submitted (the room's block size then). */
  blockFrames = 1;
  /** Recent engine-call times by block size, and stepped → first frame decoded and encoded (ms), newest last. */
  readonly stepTimes = new Map<number, number[]>();
  readonly decodeTimes: number[] = [];
  /** An engine call of a block of `frames` frames took `ms`. */
  recordStep(frames: number, ms: number): void {
    const w = this.stepTimes.get(frames) ?? [];
    WorldView.record(w, ms);
    this.stepTimes.set(frames, w);
  }
  /** What an engine call of a block of `frames` frames will take (the nearest measured size's when this one is not yet; 0: none). */
  stepEstimate(frames: number): number {
    let best: number[] | undefined;
    let dist = Infinity;
    for (const [f, w] of this.stepTimes)
      if (w.length > 0 && (Math.abs(f - frames) < dist || (Math.abs(f - frames) === dist && f > frames))) {
        best = w;
        dist = Math.abs(f - frames);
      }
    return best ? WorldView.estimate(best) : 0;
  }
  /** Record a time in a bounded window of recent ones. */
  static record(window: number[], ms: number): void {
    window.push(ms);
    if (window.length > 16) window.shift();
  }
  /** What the window's next value will be, cautiously (its 75th percentile; 0 when empty). */
  static estimate(window: readonly number[]): number {
    if (window.length === 0) return 0;
    const s = [...window].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(s.length * 0.75))]!;
  }
  promptVersion = 0;
  pendingPrompt: { text: string; embedding: Float32Array; version: number } | null = null;
  /** Decode → encode → send, in block order. */
  chain: Promise<void> = Promise.resolve();
  /**
   * Blocks submitted whose frames have not come out yet, oldest first: one at most for the
   * block loop; a staggered-schedule model returns a block W − 1 steps after it entered.
   */
  readonly inFlight: BlockMeta[] = [];
  /** The newest block's conditioning (for inspection and tests; without the decoder's maps). */
  lastConditioning: Conditioning | null = null;
  /** The driver's pose at the newest block with one, and who that was (a geometry decoder's maps of a block without a driver are drawn from there). */
  lastPose: Pose | null = null;
  lastDriver: string | null = null;
  constructor(id: string, kind: ViewKind, session: Session, stream: DecoderStream | null, state: ViewState) {
    this.id = id;
    this.kind = kind;
    this.session = session;
    this.stream = stream;
    this.state = state;
  }
  /** Someone connected is watching (a player or a spectator). */
  get watched(): boolean {
    for (const p of this.subscribers) if (p.connected) return true;
    return false;
  }
  /** Close the session (frees its KV pages) and the decoder stream. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([this.session.close(), this.stream?.close()]);
  }
}
