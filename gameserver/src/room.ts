/**
 * WorldRoom: a Colyseus room where every player walks a rapier character through a level
 * and sees a world model's video of it. In 'private' mode each player has a world session
 * of their own; in 'shared' mode the room has one session, driven by one player's motion
 * (the first connected one) and streamed to all. A client joining with `{spectate: sessionId}`
 * watches that player's view: no session or character of its own, its input dropped.
 *
 * The fixed-timestep tick moves the characters, then, for every view that is ready (its
 * previous block stepped and a block's worth of ticks gone by), turns the driver's allowed
 * motion into action conditioning and hands the block to the process's {@link WorldEngine},
 * which runs all blocks asked for together as one batched forward. The tick never waits:
 * blocks come back through Promise continuations, are decoded (video decoder, or a latent
 * preview), encoded per frame (codec) and sent as bytes in frame envelopes, newest-only to
 * clients whose sockets are behind.
 *
 * Configuration comes from the options given to `define()` (never from clients; see
 * {@link WorldRoom.trustedOptions}).
 */
import { CloseCode, Room, ServerError, matchMaker, type AuthContext, type Client, type StepContext } from '@colyseus/core';

import { KvBudgetError, TablePromptEncoder, actionSize, type ActionInput, type ActionSpace, type BatchItem, type LatentBlock, type Model, type Pose, type PromptEncoder, type SessionOptions, type StepOptions } from '../../sdk/src/index.js';
import type { AuthIdentity, TokenVerifier } from './auth.js';
import { WORLD_ERRORS } from './errors.js';
import { authorizeJoin, joinAuthOf, makeVerifier } from './join.js';
import { resolveCodec, type FrameCodec } from './codec.js';
import { FrameDelivery } from './delivery.js';
import { log, worldMetrics } from './metrics.js';
import { checkGeometrySpace, conditioningParams, motionToConditioning, poseInputs, takeFrameGeometry, type ActionMap, type Conditioning, type ConditioningParams } from '../../world/src/conditioning.js';
import { WorldEngine, type EngineOptions } from './engine.js';
import { BlockSizer, type SizerOptions } from './block_size.js';
import { defaultLevel, loadLevelFile, spawnPose, validateLevel, type Level } from '../../world/src/levels/index.js';
import { PhysicsWorld, type CharacterParams, type TickMotion } from '../../world/src/physics.js';
import { CHARACTER_COLORS, type CharacterShape } from '../../world/src/render.js';
import { Walker } from '../../world/src/walkers.js';
import { HashPromptEncoder } from './prompts.js';
import { identityLimiter, resolveLimits, type IdentityLimits } from './limits.js';
import { CLOSE, KEY_BITS, describeValue, nowMs, validateEmpty, validateInput, validateJoinOptions, validatePrompt } from './protocol.js';
import { PlayerState, ViewState, WorldState } from './schema.js';
import { PlayerRecord, WorldView, type BlockMeta, type ViewKind } from './view.js';

export type WorldMode = 'private' | 'shared';

/** Options of a WorldRoom, given to `gameServer.define(name, WorldRoom, options)`. */
export interface WorldRoomOptions {
  /** 'private': a world session per player; 'shared': one for the room (default 'private'). */
  mode?: WorldMode;
  /** The engine to use; default: `WorldEngine.shared(model)` (one per process). */
  engine?: WorldEngine;
  /** Model (and decoder) to load when no engine is given. */
  model?: EngineOptions;
  /** A level or the path of a level JSON file (default: the built-in yard). */
  level?: Level | string;
  character?: Partial<CharacterParams>;
  /** Simulation ticks per second (default 30). */
  tickRate?: number;
  /** Game time one latent frame stands for (s); a block is submitted every frames × this (default: 1 / the model's `latent_fps`, else 0.25). */
  latentFrameSeconds?: number;
  /** Override: ticks between blocks of a view (of the model's block size; smaller blocks take their share). */
  ticksPerBlock?: number;
  /**
   * Latent frames per block. 'auto' (default, where the model's sessions take blocks of
   * several sizes, {@link Model.minBlockFrames}): each block takes the fewest frames the
   * engine keeps up with ({@link BlockSizer}) — 1-frame blocks, the least wait for an
   * input, while the engine has room; up to the model's block when it is busy (more
   * players). A number: blocks of that many frames, from the model's smallest to its block.
   */
  blockFrames?: number | 'auto';
  /** The 'auto' block sizer's thresholds (see {@link SizerOptions}). */
  blockSizer?: SizerOptions;
  /** Blocks of a view stepped but not yet sent before it waits (default 2). */
  maxPendingDeliveries?: number;
  /** Options of each world session (default: the model's window, or 12 recent + 3 sink frames for global-attention models). */
  session?: Omit<SessionOptions, 'prompt'>;
  /** Initial prompt text (default: the first of the model's prompt vocabulary when it ships one, e.g. 'day'; else none). */
  prompt?: string;
  /**
   * 'room' (default): a player's prompt changes the weather and light of the whole room —
   * every view, and the views of players who join later — so all players see one world.
   * 'view': it changes only the sender's own view.
   */
  promptScope?: 'room' | 'view';
  /** Turns prompt text into embeddings (default: the model's, else a hash stand-in). */
  promptEncoder?: PromptEncoder;
  maxPromptChars?: number;
  /** Frame codec: 'auto' (raw up to 64×64, else JPEG), 'jpeg', 'raw' or a codec object (default 'auto'). */
  codec?: FrameCodec | 'auto' | 'jpeg' | 'raw';
  /** JPEG quality 1–100 of the 'auto' and 'jpeg' codecs (default 85, see codec.ts's JpegCodec). */
  jpegQuality?: number;
  /** Debug: the first frame header of each block carries its action vectors (bounded; never the geometry maps). Default false. */
  frameActions?: boolean;
  /** A client whose socket has more than this many bytes queued gets only the newest frame of a block (default 256 KiB). */
  backpressureBytes?: number;
  /** ... and none above this (default 4 MiB). */
  maxBufferedBytes?: number;
  /** Token auth: false = none; else a verifier or a shared HMAC secret. Default: required, secret from WORLDCAST_SECRET. */
  auth?: false | { verifier?: TokenVerifier; secret?: string };
  /** Seconds a dropped player's world is kept for reconnection (default 20). */
  reconnectGraceSeconds?: number;
  maxClients?: number;
  /** Colyseus' per-client message rate limit; clients above it are disconnected (default 60). */
  maxMessagesPerSecond?: number;
  /** Invalid messages a client may send before it is disconnected (default 10). */
  maxViolations?: number;
  /**
   * Per-identity limits (the token's `sub`, or the IP without auth), across every room of
   * the process: seats, own world sessions, join rate (defaults: `DEFAULT_IDENTITY_LIMITS`,
   * 4 seats, 2 sessions, 12 joins a minute in bursts of 6).
   * false turns them off.
   */
  limits?: false | Partial<IdentityLimits>;
  /** Motion → action mapping. */
  conditioning?: Partial<Pick<ConditioningParams, 'keyThreshold'>> & { map?: Partial<ActionMap> };
  /** Colyseus state patch interval (ms, default 50). */
  patchRate?: number;
}

type Resolved = Required<Omit<WorldRoomOptions, 'engine' | 'model' | 'level' | 'auth' | 'session' | 'prompt' | 'promptEncoder' | 'codec' | 'conditioning' | 'character' | 'ticksPerBlock' | 'jpegQuality' | 'limits' | 'frameActions' | 'blockFrames' | 'blockSizer'>> & {
  prompt: string | undefined;
  session: Omit<SessionOptions, 'prompt'>;
  limits: IdentityLimits | null;
};

let viewCounter = 0;

export class WorldRoom extends Room<{ state: WorldState }> {
  /** Defaults of every option not given to define(). Subclasses may replace it. */
  static defaults: WorldRoomOptions = {};

  protected engine!: WorldEngine;
  protected physics!: PhysicsWorld;
  protected codec!: FrameCodec;
  protected delivery!: FrameDelivery;
  protected promptEncoder!: PromptEncoder;
  protected verifier: TokenVerifier | null = null;
  protected options!: Resolved;
  protected conditioningParams!: ConditioningParams;
  protected actionSpace: ActionSpace | null = null;
  /** Latent frames of the model's block: the most a block takes. */
  protected framesPerBlock = 1;
  /** Ticks of world time a block of framesPerBlock frames stands for. */
  protected ticksPerBlock = 1;
  /** The size of the room's blocks (fixed, or chosen block by block: the blockFrames option). */
  protected sizer!: BlockSizer;
  protected readonly players = new Map<string, PlayerRecord>();
  protected readonly views = new Map<string, WorldView>();
  /** The level's scripted walkers (NPCs), moved every tick through the character controller. */
  protected walkers: Walker[] = [];
  protected sharedView: WorldView | null = null;
  #tick = 0;
  #disposed = false;
  /** Origin of the room's block grid (ms, nowMs clock). */
  readonly #epoch = nowMs();
  /** Counted in the rooms gauge. */
  #counted = false;
  /** Characters given a colour so far (players take CHARACTER_COLORS in turn). */
  #colors = 0;
  /** The room's prompt now (room-wide scope): what a new view starts with. */
  #roomPrompt: string | undefined = undefined;

  /**
   * The options this room is configured with. By default those given to `define()` only:
   * options a client passes when it creates the room are ignored, so no client can pick a
   * model directory, switch auth off or change limits.
   */
  protected trustedOptions(_createOptions: unknown): WorldRoomOptions {
    let defined: WorldRoomOptions = {};
    try {
      defined = (matchMaker.getHandler(this.roomName).options ?? {}) as WorldRoomOptions;
    } catch {
      defined = {};
    }
    return { ...(this.constructor as typeof WorldRoom).defaults, ...defined };
  }

  override async onCreate(createOptions: unknown): Promise<void> {
    const o = this.trustedOptions(createOptions);
    if (!o.engine && !o.model) throw new Error('WorldRoom: give define() an engine (WorldEngine) or a model ({modelDir, decoderDir?})');
    this.engine = o.engine ?? (await WorldEngine.shared(o.model!));
    const model = this.engine.model;
    this.verifier = makeVerifier(o); // throws on a misconfiguration
    const limits = o.limits === false ? null : resolveLimits(o.limits);
    const level = typeof o.level === 'string' ? loadLevelFile(o.level) : validateLevel(o.level ?? defaultLevel);
    this.physics = await PhysicsWorld.create(level, o.character);
    this.walkers = (level.walkers ?? []).map((w) => new Walker(this.physics, w, CHARACTER_COLORS[this.#colors++ % CHARACTER_COLORS.length]!));
    this.codec = resolveCodec(o.codec, o.jpegQuality);
    this.promptEncoder = o.promptEncoder ?? model.promptEncoder ?? new HashPromptEncoder(model.config.text_dim, Math.min(4, model.config.text_len));
    const cfg = model.config;
    const windowed = cfg.local_attn_size > 0;
    this.options = {
      mode: o.mode ?? 'private',
      tickRate: o.tickRate ?? 30,
      latentFrameSeconds: o.latentFrameSeconds ?? (cfg.latent_fps > 0 ? 1 / cfg.latent_fps : 0.25),
      maxPendingDeliveries: o.maxPendingDeliveries ?? 2,
      session: o.session ?? (windowed ? {} : { localAttnSize: 12, sinkSize: 3 }),
      prompt: o.prompt ?? defaultPrompt(model),
      maxPromptChars: o.maxPromptChars ?? 200,
      backpressureBytes: o.backpressureBytes ?? 256 * 1024,
      maxBufferedBytes: o.maxBufferedBytes ?? 4 * 1024 * 1024,
      reconnectGraceSeconds: o.reconnectGraceSeconds ?? 20,
      maxClients: o.maxClients ?? 8,
      maxMessagesPerSecond: o.maxMessagesPerSecond ?? 60,
      maxViolations: o.maxViolations ?? 10,
      patchRate: o.patchRate ?? 50,
      limits,
      promptScope: o.promptScope ?? 'room',
    };
    if (this.options.promptScope !== 'room' && this.options.promptScope !== 'view') throw new Error(`WorldRoom: promptScope must be 'room' or 'view', not ${describeValue(this.options.promptScope)}`);
    this.#roomPrompt = this.options.prompt;
    if (this.options.mode !== 'private' && this.options.mode !== 'shared') throw new Error(`WorldRoom: mode must be 'private' or 'shared', not ${String(this.options.mode)}`);
    // the SDK's: config.json's, with the map its decoder takes per frame when it takes one
    this.actionSpace = model.actionSpace;
    checkGeometrySpace(this.actionSpace);
    if (!!this.engine.decoder?.config.geometry !== !!this.actionSpace?.frameGeometry)
      throw new Error(
        this.actionSpace?.frameGeometry
          ? "WorldRoom: the model's decoder takes a geometry map per frame, but the engine's decoder takes none (give the engine the model's own decoder)"
          : 'WorldRoom: the decoder takes a geometry map per frame, which the room draws from a model action space that has one (the model\'s own decoder: model.actionSpace.frameGeometry)',
      );
    this.framesPerBlock = cfg.num_frame_per_block;
    this.ticksPerBlock = Math.max(1, o.ticksPerBlock ?? Math.round(this.framesPerBlock * this.options.latentFrameSeconds * this.options.tickRate));
    const bf = o.blockFrames ?? 'auto';
    if (bf !== 'auto' && !(Number.isInteger(bf) && bf >= model.minBlockFrames && bf <= this.framesPerBlock))
      throw new Error(`WorldRoom: blockFrames must be 'auto' or an integer in ${model.minBlockFrames}..${this.framesPerBlock} for this model, not ${describeValue(bf)}`);
    this.sizer = bf === 'auto' ? new BlockSizer(model.minBlockFrames, this.framesPerBlock, o.blockSizer) : new BlockSizer(bf, bf);
    // sessions take blocks down to the sizer's smallest (their KV pages keep what it reaches)
    if (this.sizer.min < this.framesPerBlock) this.options.session = { minBlockFrames: this.sizer.min, ...this.options.session };
    const actionWidth = cfg.action && cfg.action.mode === 'additive' ? actionSize(cfg.action) : 0;
    this.delivery = new FrameDelivery({
      codec: this.codec,
      backpressureBytes: this.options.backpressureBytes,
      maxBufferedBytes: this.options.maxBufferedBytes,
      latentFrameSeconds: this.#frameMs / 1000,
      onDecode: (ms) => this.engine.noteDecode(ms),
      frameActions: o.frameActions === true,
      actionWidth,
      framesPerLatent: this.engine.decoder?.config.t_upscale ?? 1,
      framesTrimmed: this.engine.decoder?.config.frames_to_trim ?? 0,
    });
    this.conditioningParams = conditioningParams(this.physics.params, {
      keyThreshold: o.conditioning?.keyThreshold,
      map: o.conditioning?.map,
      // geometry-taking models: maps of this level at the sessions' latent size
      view: { level, latent: { height: o.session?.latentHeight ?? cfg.latent_height, width: o.session?.latentWidth ?? cfg.latent_width } },
    });
    this.maxClients = this.options.maxClients;
    this.maxMessagesPerSecond = this.options.maxMessagesPerSecond;
    this.patchRate = this.options.patchRate;

    const state = new WorldState();
    state.mode = this.options.mode;
    state.tick = 0;
    state.tickRate = this.options.tickRate;
    state.level = level.name;
    this.state = state;

    if (this.options.mode === 'shared') {
      try {
        this.sharedView = this.createView('shared');
      } catch (e) {
        this.physics.free(); // onDispose does not run for a room that failed to be created
        // Refused at matchmaking, where the code is the HTTP status: 503, not the 4503 a
        // joined client's session ends with (which the HTTP layer would turn into a 500).
        if (e instanceof ServerError && e.code === WORLD_ERRORS.KV_FULL) throw new ServerError(503, e.message);
        throw e;
      }
    }

    this.registerMessages();
    this.setFixedTimestep((ctx) => this.#safeTick(ctx), this.options.tickRate);
    worldMetrics.rooms.inc();
    this.#counted = true;
    log('info', 'room_created', { room: this.roomId, name: this.roomName, mode: this.options.mode, model: model.info().dir });
  }

  // ------------------------------------------------------------------ auth

  /**
   * Token check at matchmaking time (Colyseus calls the static onAuth on the HTTP
   * matchmaking request, before any room is created or seat reserved). The room's auth
   * options are found from the request path (`/matchmake/<method>/<roomName | roomId>`).
   */
  static override async onAuth(token: string, options: unknown, context: AuthContext): Promise<unknown> {
    return authorizeJoin(token, options, context);
  }

  // ------------------------------------------------------------------ players

  override onJoin(client: Client, options?: unknown, auth?: unknown): void {
    const a = joinAuthOf(client.auth ?? auth);
    const limits = this.options.limits;
    const key = limits ? a.limitKey : null;
    try {
      const opts = validateJoinOptions(options);
      if (!opts.ok) throw new ServerError(WORLD_ERRORS.BAD_OPTIONS, opts.error);
      const p = opts.value.spectate !== undefined ? this.#joinSpectator(client, opts.value.spectate, a.identity) : this.#joinPlayer(client, a.identity, key);
      p.limitKey = key;
      if (key !== null) identityLimiter.joined(key, limits!);
      worldMetrics.joins.inc();
      worldMetrics.players.inc();
      log('debug', 'join', { room: this.roomId, client: p.id, identity: key, spectating: p.spectating });
    } catch (e) {
      if (key !== null) identityLimiter.unreserve(key, limits!);
      worldMetrics.refusals.inc({ reason: refusalReason(e) });
      throw e;
    }
  }

  #joinPlayer(client: Client, identity: AuthIdentity | null, key: string | null): PlayerRecord {
    const limits = this.options.limits;
    if (this.options.mode === 'private' && key !== null) {
      const refused = identityLimiter.checkSession(key, limits!);
      if (refused) throw new ServerError(refused.code, refused.message);
    }
    const ps = new PlayerState();
    const character = this.physics.addCharacter();
    const p = new PlayerRecord(client, ps, character, identity);
    p.color = CHARACTER_COLORS[this.#colors++ % CHARACTER_COLORS.length]!;
    try {
      if (this.options.mode === 'private') {
        p.view = this.createView('private', p);
        p.ownsSession = true;
        if (key !== null) identityLimiter.sessionOpened(key, limits!);
      } else {
        p.view = this.sharedView!;
      }
    } catch (e) {
      this.physics.removeCharacter(character);
      throw e;
    }
    p.view.subscribers.add(p);
    if (!p.view.driver) this.#setDriver(p.view, p);
    Object.assign(ps, { view: p.view.id, connected: true, inputSeq: 0, framesSent: 0, dropped: 0, spectating: '' });
    this.#syncPose(p);
    this.players.set(p.id, p);
    this.state.players.set(p.id, ps);
    client.send('welcome', this.welcome(p, false));
    return p;
  }

  /**
   * A spectator (join option `{spectate: sessionId}`): no world session and no character of
   * its own, subscribed to the target player's view, never its driver; its input is dropped.
   */
  #joinSpectator(client: Client, spectate: string, identity: AuthIdentity | null): PlayerRecord {
    const target = this.players.get(spectate);
    if (!target || target.spectating !== null || !target.view)
      throw new ServerError(WORLD_ERRORS.NO_SUCH_PLAYER, `cannot spectate ${describeValue(spectate, 64)}: no such player in this room`);
    const ps = new PlayerState();
    const p = new PlayerRecord(client, ps, null, identity, target.id);
    p.view = target.view;
    p.view.subscribers.add(p);
    Object.assign(ps, { view: p.view.id, connected: true, inputSeq: 0, framesSent: 0, dropped: 0, spectating: target.id });
    this.players.set(p.id, p);
    this.state.players.set(p.id, ps);
    client.send('welcome', this.welcome(p, false));
    return p;
  }

  /** The spectators watching player `p`. */
  #spectatorsOf(p: PlayerRecord): PlayerRecord[] {
    return [...this.players.values()].filter((s) => s.spectating === p.id);
  }

  override onDrop(client: Client, code?: number): void {
    const p = this.players.get(client.sessionId);
    if (!p) return;
    p.connected = false;
    p.state.connected = false;
    p.input.keys = 0;
    if (this.#disposed || p.abusive) return; // onLeave follows
    // A reconnect that supersedes a live socket (a half-open connection): Colyseus closes the
    // old socket with 4002 and the same player takes over its world.
    const superseded = p.superseded;
    p.superseded = false;
    if (!superseded) {
      // 4002 is also Colyseus' close for a message flood or an undecodable message, 1009 an
      // oversized one, 4400 ours for repeated invalid messages: no way back for those.
      const abusive = code === CloseCode.WITH_ERROR || code === 1009 || code === CLOSE.POLICY_VIOLATION;
      if (abusive || this.options.reconnectGraceSeconds <= 0) return;
    }
    const seconds = superseded ? Math.max(this.options.reconnectGraceSeconds, 5) : this.options.reconnectGraceSeconds;
    const d = this.allowReconnection(client, seconds) as unknown as Promise<Client>;
    // Rejected when the grace period ends without a reconnection: onLeave then frees the world.
    d.catch(() => undefined);
  }

  /**
   * Colyseus asks this when a client reconnects with a token (before the new socket joins);
   * if the token's connection is still open it is closed with 4002 (WITH_ERROR). The player
   * is marked so that this drop keeps its world for the new socket instead of ending it.
   */
  override checkReconnectionToken(reconnectionToken: string): string {
    const live = typeof reconnectionToken === 'string' ? this.clients.find((c) => c.reconnectionToken === reconnectionToken) : undefined;
    const p = live ? this.players.get(live.sessionId) : undefined;
    if (p && p.connected && !p.abusive) p.superseded = true;
    return super.checkReconnectionToken(reconnectionToken);
  }

  override onReconnect(client: Client): void {
    const p = this.players.get(client.sessionId);
    if (!p) return;
    p.client = client;
    p.connected = true;
    p.state.connected = true;
    p.input.keys = 0;
    p.input.lookX = 0;
    p.input.lookY = 0;
    p.motion = [];
    client.send('welcome', this.welcome(p, true));
  }

  override async onLeave(client: Client): Promise<void> {
    const p = this.players.get(client.sessionId);
    if (!p) return;
    this.players.delete(p.id);
    this.state.players.delete(p.id);
    worldMetrics.players.dec();
    log('debug', 'leave', { room: this.roomId, client: p.id });
    const limits = this.options.limits;
    if (p.limitKey !== null && limits) {
      identityLimiter.left(p.limitKey, limits);
      if (p.ownsSession) identityLimiter.sessionClosed(p.limitKey, limits);
      p.ownsSession = false;
    }
    if (p.character) this.physics.removeCharacter(p.character);
    const v = p.view;
    p.view = null;
    if (p.spectating === null) {
      // Its spectators have nothing left to watch: tell them and detach them.
      for (const s of this.#spectatorsOf(p)) {
        s.view?.subscribers.delete(s);
        s.view = null;
        s.state.view = '';
        if (s.connected) s.client.send('spectate_ended', { target: p.id, view: v?.id ?? '', reason: 'left', message: `the player you were watching (${p.id}) left` });
      }
    }
    if (!v) return;
    v.subscribers.delete(p);
    if (p.spectating !== null) return;
    if (v.kind === 'private') {
      this.views.delete(v.id);
      this.state.views.delete(v.id);
      await v.close();
    } else if (v.driver === p) {
      this.#setDriver(v, this.#firstConnected(v));
    }
  }

  override async onDispose(): Promise<void> {
    this.#disposed = true;
    if (this.#counted) worldMetrics.rooms.dec();
    this.#counted = false;
    log('info', 'room_disposed', { room: this.roomId });
    const all = [...this.views.values()];
    this.views.clear();
    await Promise.allSettled(all.map((v) => v.close()));
    this.physics?.free();
  }

  /** The `welcome` message: what a client needs to read the stream and send input. */
  protected welcome(p: PlayerRecord, reconnected: boolean): Record<string, unknown> {
    const cfg = this.engine.model.config;
    return {
      sessionId: p.id,
      reconnected,
      mode: this.options.mode,
      spectating: p.spectating ?? '',
      view: p.view?.id ?? '',
      tickRate: this.options.tickRate,
      ticksPerBlock: this.ticksPerBlock,
      framesPerBlock: this.framesPerBlock,
      // blocks of minFramesPerBlock..framesPerBlock latent frames; each frame stands for frameMs of world time
      minFramesPerBlock: this.sizer.min,
      frameMs: this.#frameMs / (this.engine.decoder?.config.t_upscale ?? 1),
      latent: { height: cfg.latent_height, width: cfg.latent_width },
      decoder: this.engine.decoder !== null,
      codec: this.codec.name,
      actionSpace: cfg.action,
      // the prompts the model knows when it ships a vocabulary (empty: free text)
      prompts: this.promptEncoder instanceof TablePromptEncoder ? this.promptEncoder.prompts : [],
      prompt: p.view?.state.prompt || this.#roomPrompt || '',
      keyBits: KEY_BITS,
      maxMessagesPerSecond: this.options.maxMessagesPerSecond,
    };
  }

  // ------------------------------------------------------------------ views

  /**
   * A new world session with its decoder stream. Throws a ServerError naming the KV
   * budget when the pool cannot admit it (the join is refused; nobody else is affected).
   */
  protected createView(kind: ViewKind, owner?: PlayerRecord): WorldView {
    const model = this.engine.model;
    let session;
    try {
      const opening = this.openingFor(owner);
      const start = opening ? { opening, prompt: this.#roomPrompt, openingActions: this.openingActionsFor(owner) } : {};
      // Commits fold into the next step, or run eagerly while the engine idles (WorldEngine):
      // either way off the path from a block's input to its first frame.
      session = model.createSession({ seed: this.sessionSeed(owner), foldCommit: model.foldsCommits, ...this.options.session, ...start });
    } catch (e) {
      if (e instanceof KvBudgetError) throw new ServerError(WORLD_ERRORS.KV_FULL, `world is full: the KV memory pool cannot admit another session (${e.message})`);
      throw e;
    }
    let stream = null;
    try {
      stream = this.engine.decoder ? this.engine.decoder.createStream() : null;
    } catch (e) {
      void session.close();
      throw e;
    }
    const vs = new ViewState();
    Object.assign(vs, { kind, driver: '', blocks: 0, frames: 0, latentFrames: 0, prompt: '', promptVersion: 0, ended: false, error: '' });
    const v = new WorldView(`${this.roomId}-v${++viewCounter}`, kind, session, stream, vs);
    this.views.set(v.id, v);
    this.state.views.set(v.id, vs);
    if (this.#roomPrompt) this.#queuePrompt(v, this.#roomPrompt, null);
    return v;
  }

  /**
   * The opening a new view starts from (one of `model.openings`), or undefined to start
   * from nothing. Default: `'<prompt>/<spawn index>'` of the owner's character (spawn 0
   * for a shared view) when the model ships that opening: the world model then starts from
   * what the character actually sees at its spawn point.
   */
  protected openingFor(owner?: PlayerRecord): string | undefined {
    const openings = this.engine.model.openings;
    const prompt = this.#roomPrompt;
    if (openings.size === 0 || !prompt) return undefined;
    const name = `${prompt.trim().toLowerCase()}/${Math.max(0, owner?.character?.spawnIndex ?? 0)}`;
    return openings.has(name) ? name : undefined;
  }

  /**
   * The actions of the opening's frames: for a model that takes the pose, the character
   * standing at its spawn point (spawn 0 for a shared view), as the openings were recorded.
   */
  protected openingActionsFor(owner?: PlayerRecord): ActionInput | undefined {
    const space = this.actionSpace;
    if (!space || (!space.pose && !space.geometry)) return undefined;
    const spawns = this.physics.level.spawns;
    const sp = spawns[Math.max(0, owner?.character?.spawnIndex ?? 0)] ?? spawns[0];
    if (!sp) return undefined;
    // the opening is committed, never decoded here: no decoder map
    return poseInputs(spawnPose(sp), { ...space, frameGeometry: undefined }, this.conditioningParams);
  }

  /** Noise seed of a new session (default: random). */
  protected sessionSeed(_owner?: PlayerRecord): number {
    return Math.floor(Math.random() * 0x7fffffff);
  }

  #setDriver(v: WorldView, p: PlayerRecord | null): void {
    v.driver = p;
    v.state.driver = p?.id ?? '';
  }

  #firstConnected(v: WorldView): PlayerRecord | null {
    for (const s of v.subscribers) if (s.connected && s.spectating === null) return s;
    return null;
  }

  // ------------------------------------------------------------------ tick

  #safeTick(ctx: StepContext): void {
    try {
      this.tick(ctx);
    } catch (e) {
      worldMetrics.errors.inc({ kind: 'tick' });
      log('error', 'tick_failed', { room: this.roomId, error: e });
    }
  }

  /** One fixed step: physics for every connected player, then submit the views that are ready. */
  protected tick(ctx: StepContext): void {
    if (this.#disposed) return;
    this.#tick = ctx.tick;
    const cap = this.ticksPerBlock * 4;
    for (const p of this.players.values()) {
      if (!p.connected || !p.character) continue;
      const m = p.character.step(p.input, ctx.dt);
      p.motion.push(m);
      if (p.motion.length > cap) p.motion.splice(0, p.motion.length - cap);
    }
    for (const w of this.walkers) w.step(ctx.dt);
    this.physics.step(ctx.dt);
    for (const p of this.players.values()) this.#syncPose(p);
    this.state.tick = ctx.tick;
    // Just in time: a block goes when, after the engine call and the decode of its first
    // frame it is measured to need (plus half a tick, the granularity of this decision), its
    // first frame would be due — so it carries the newest input. Views of the room share one
    // block grid and one lead (the longest), so they come due in the same tick and their
    // blocks share one batched step.
    const now = nowMs();
    const frames = this.sizer.next(this.engine.load(this.sizer.windowMs), now);
    let lead = 0;
    for (const v of this.views.values()) if (!v.ended && !v.closed && v.watched) lead = Math.max(lead, this.#leadMs(v, frames));
    for (const v of this.views.values()) {
      if (v.ended || v.closed) continue;
      if (v.kind === 'shared' && (!v.driver || !v.driver.connected)) this.#setDriver(v, this.#firstConnected(v));
      if (!v.watched) continue;
      if (v.busy || v.pendingDeliveries >= this.options.maxPendingDeliveries) continue;
      if (v.clock === 0 || now >= v.clock - lead) this.#submit(v, frames);
    }
  }

  /** World time of one latent frame (ms): a block of F frames stands for F of them. */
  get #frameMs(): number {
    return (this.ticksPerBlock / this.options.tickRate / this.framesPerBlock) * 1000;
  }

  /** How long before its first frame is due a view's block of `frames` frames must be submitted (ms). */
  #leadMs(v: WorldView, frames: number): number {
    return v.stepEstimate(frames) + WorldView.estimate(v.decodeTimes) + 500 / this.options.tickRate;
  }

  /** The first point of the room's frame grid at or after `t` (ms). */
  #onGrid(t: number): number {
    const ms = this.#frameMs;
    return this.#epoch + Math.ceil((t - this.#epoch) / ms - 1e-6) * ms;
  }

  #syncPose(p: PlayerRecord): void {
    const c = p.character;
    if (!c) return;
    const s = p.state;
    s.x = c.x;
    s.y = c.y;
    s.z = c.z;
    s.yaw = c.yaw;
    s.pitch = c.pitch;
    s.grounded = c.grounded;
  }

  /**
   * The conditioning of a view's next block from its driver's motion; a geometry-taking
   * model's maps draw every other character of the room where physics has it now
   * ({@link charactersSeenBy}). Subclasses may change the mapping.
   */
  protected conditioningFor(v: WorldView, ticks: readonly TickMotion[]): Conditioning {
    const view = this.conditioningParams.view;
    const space = v.session.actionSpace; // the room's, with the decoder's map at the session's latent size
    const { pose, viewer } = this.#standpoint(v);
    const params = view && (space?.geometry || space?.frameGeometry) ? { ...this.conditioningParams, view: { ...view, characters: this.charactersSeenBy(viewer) } } : this.conditioningParams;
    return motionToConditioning(ticks, v.blockFrames, space, params, pose);
  }

  /**
   * Where a view's frames without ticks of their own stand, and whose eyes they are: its
   * driver's pose now. A geometry decoder needs a map of every frame, so for it a view
   * without a driver (a shared view watched by spectators while its players are away) stays
   * where its last block was, with its last driver's eyes (at first, at spawn 0).
   */
  #standpoint(v: WorldView): { pose: Pose | undefined; viewer: PlayerRecord | null } {
    const d = v.driver;
    const pose = d?.character?.pose();
    if (d && pose) {
      v.lastPose = pose;
      v.lastDriver = d.id;
    }
    if (pose || !this.actionSpace?.frameGeometry) return { pose, viewer: d };
    const sp = this.physics.level.spawns[0];
    return { pose: v.lastPose ?? (sp ? spawnPose(sp) : undefined), viewer: d ?? (v.lastDriver !== null ? this.players.get(v.lastDriver) ?? null : null) };
  }

  /** The characters a player's view shows: every other player's (connected or within its grace period: its body is still there) and the walkers. */
  protected charactersSeenBy(viewer: PlayerRecord | null): CharacterShape[] {
    const out: CharacterShape[] = [];
    for (const p of this.players.values()) if (p !== viewer && p.character) out.push(p.character.shape(p.color));
    for (const w of this.walkers) out.push(w.character.shape(w.color));
    return out;
  }

  /** Extra step options of a block (e.g. caller-supplied noise). Default none. */
  protected stepOptions(_v: WorldView, _meta: BlockMeta): Omit<StepOptions, 'actions'> {
    return {};
  }

  /** Called when a block is submitted, with its conditioning. Default: nothing. */
  protected onBlockSubmitted(_v: WorldView, _meta: BlockMeta): void {}

  #submit(v: WorldView, frames: number): void {
    v.blockFrames = frames;
    const driver = v.driver;
    const ticks = driver ? driver.motion.splice(0) : [];
    for (const s of v.subscribers) if (s !== driver) s.motion.length = 0;
    const conditioning = this.conditioningFor(v, ticks);
    // a geometry decoder's maps travel with the block to its decode, not in its inputs
    const frameGeometry = takeFrameGeometry(conditioning) ?? null;
    v.lastConditioning = conditioning;
    if (v.pendingPrompt) this.#applyPrompt(v);
    const input = driver?.lastInputSeq ?? -1;
    const fresh = driver !== null && input > v.lastBlockInput;
    if (fresh) v.lastBlockInput = input;
    const meta: BlockMeta = {
      block: v.nextBlock++,
      tick: this.#tick,
      input,
      inputAt: fresh ? driver.lastInputAt : 0,
      prompt: v.promptVersion,
      conditioning,
      frameGeometry,
      submitted: nowMs(),
      stepped: 0,
      decoded: 0,
      latentFrame: 0,
      dueAt: 0,
    };
    let item: BatchItem;
    try {
      item = { session: v.session, actions: conditioning.encoded, geometry: conditioning.geometry, frames, ...this.stepOptions(v, meta) };
      this.onBlockSubmitted(v, meta);
    } catch (e) {
      this.#endView(v, e);
      return;
    }
    v.busy = true;
    v.callSubmittedAt = meta.submitted;
    this.engine.step(item).then(
      (b) => this.#onBlock(v, meta, b),
      (e: unknown) => {
        v.busy = false;
        this.#endView(v, e);
      },
    );
  }

  #onBlock(v: WorldView, submitted: BlockMeta, b: LatentBlock): void {
    v.busy = false;
    if (v.closed || v.ended) return;
    const now = nowMs();
    v.recordStep(b.frames || v.blockFrames, now - v.callSubmittedAt);
    if (b.frames > 0) {
      this.sizer.record(b.frames, b.seconds);
      worldMetrics.blockFrames.observe(b.frames);
    }
    // The block that came out is the oldest in flight (the one just submitted, for the block
    // loop); a staggered-schedule model returns none while its pipeline fills.
    v.inFlight.push(submitted);
    if (b.frames === 0) return;
    const meta = v.inFlight.shift()!;
    meta.stepped = now;
    meta.latentFrame = b.frameStart;
    // Its world-time span: right after the previous block's — if it is a little late its
    // first frames go out as soon as they are decoded and the rest catch up with their slots,
    // rather than losing a whole block period — or, for its first block or a view more than a
    // block behind, as soon as it can be decoded, on the room's block grid.
    const ready = now + WorldView.estimate(v.decodeTimes);
    const span = b.frames * this.#frameMs;
    meta.dueAt = v.clock > 0 && ready <= v.clock + span ? v.clock : this.#onGrid(ready);
    v.clock = meta.dueAt + span;
    v.state.latentFrames = b.frameStart + b.frames;
    this.delivery.enqueue(v, meta, b, (e: unknown) => this.#endView(v, e));
  }

  /** The session of `v` failed: end it (only it), tell its players, free its memory. */
  #endView(v: WorldView, err: unknown): void {
    if (v.ended || v.closed) return;
    v.ended = true;
    worldMetrics.errors.inc({ kind: 'engine' });
    const message = err instanceof Error ? err.message : String(err);
    const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'ENGINE';
    v.state.ended = true;
    v.state.error = message.slice(0, 300);
    for (const p of v.subscribers) if (p.connected) p.client.send('session_ended', { view: v.id, code, message });
    this.onSessionEnded(v, err);
    void v.close();
  }

  /** Called when a view's session ended on an engine error. Default: log it. */
  protected onSessionEnded(v: WorldView, err: unknown): void {
    log('warn', 'session_ended', { room: this.roomId, view: v.id, error: err });
  }

  // ------------------------------------------------------------------ prompts

  async #queuePrompt(v: WorldView, text: string, requester: PlayerRecord | null): Promise<void> {
    let embedding: Float32Array;
    try {
      embedding = await this.promptEncoder.encode(text);
      const td = this.engine.model.config.text_dim;
      if (!(embedding instanceof Float32Array) || embedding.length === 0 || embedding.length % td !== 0 || embedding.length / td > this.engine.model.config.text_len)
        throw new Error(`the prompt encoder returned an embedding of ${embedding?.length} floats, not [rows <= ${this.engine.model.config.text_len}] × ${td}`);
    } catch (e) {
      if (requester?.connected) requester.client.send('error', { code: 'prompt', message: e instanceof Error ? e.message : String(e) });
      return;
    }
    if (v.ended || v.closed) return;
    // Applied right before the view's next block is submitted, so it takes effect exactly there.
    v.pendingPrompt = { text, embedding, version: v.promptVersion + 1 };
  }

  #applyPrompt(v: WorldView): void {
    const pp = v.pendingPrompt!;
    v.pendingPrompt = null;
    v.promptVersion = pp.version;
    const fromBlock = v.nextBlock;
    v.session.setPrompt(pp.embedding).then(
      () => {
        if (v.closed) return;
        v.state.prompt = pp.text;
        v.state.promptVersion = pp.version;
        for (const p of v.subscribers) if (p.connected) p.client.send('prompt', { view: v.id, text: pp.text, version: pp.version, fromBlock });
      },
      (e: unknown) => this.#endView(v, e),
    );
  }

  // ------------------------------------------------------------------ messages

  /**
   * The client messages this room takes: type → handler of the sender and its payload (an
   * unchecked client value: each handler validates it first). Subclasses may add types.
   */
  protected messageHandlers(): Record<string, (p: PlayerRecord, payload: unknown) => void> {
    return {
      input: (p, msg) => {
        const r = validateInput(msg);
        if (!r.ok) return this.violation(p, r.error);
        if (p.spectating !== null) return; // a spectator drives nothing
        const m = r.value;
        if (m.seq <= p.lastInputSeq) return; // stale or repeated
        p.lastInputSeq = m.seq;
        p.lastInputAt = nowMs();
        p.input.keys = m.keys;
        p.input.lookX += m.dx;
        p.input.lookY += m.dy;
        p.state.inputSeq = m.seq;
      },
      prompt: (p, msg) => {
        const r = validatePrompt(msg, this.options.maxPromptChars);
        if (!r.ok) return this.violation(p, r.error);
        if (p.spectating !== null) return void p.client.send('error', { code: 'spectator', message: 'a spectator cannot change the prompt' });
        const v = p.view;
        if (!v || v.ended) return void p.client.send('error', { code: 'no_session', message: 'no world session to change the prompt of' });
        if (this.options.promptScope === 'view') return void this.#queuePrompt(v, r.value.text, p);
        // Room-wide: the weather and light of the one world every player of the room sees.
        this.#roomPrompt = r.value.text;
        for (const w of this.views.values()) if (!w.ended && !w.closed) void this.#queuePrompt(w, r.value.text, w === v ? p : null);
      },
      stats: (p, msg) => {
        const r = validateEmpty(msg, 'stats');
        if (!r.ok) return this.violation(p, r.error);
        p.client.send('stats', this.statsFor(p));
      },
      restart: (p, msg) => {
        const r = validateEmpty(msg, 'restart');
        if (!r.ok) return this.violation(p, r.error);
        this.#restart(p);
      },
    };
  }

  /**
   * One guarded dispatch for every client message, the wildcard included: the sender must
   * be a player of this room in good standing; an unknown type is a violation, described
   * without converting it; a handler that throws is logged and costs nobody else anything.
   */
  protected registerMessages(): void {
    const handlers = Object.entries(this.messageHandlers());
    type Handler = (p: PlayerRecord, payload: unknown) => void;
    const dispatch = (client: unknown, handler: Handler | null, type: unknown, payload: unknown): void => {
      try {
        const id = typeof client === 'object' && client !== null ? (client as { sessionId?: unknown }).sessionId : undefined;
        const p = typeof id === 'string' ? this.players.get(id) : undefined;
        if (!p || p.abusive) return;
        if (!handler) return this.violation(p, `unknown message type ${describeValue(type)}`);
        handler(p, payload);
      } catch (e) {
        worldMetrics.errors.inc({ kind: 'handler' });
        log('error', 'message_handler_failed', { room: this.roomId, error: e });
      }
    };
    for (const [type, h] of handlers) this.onMessage(type, (client: Client, payload: unknown) => dispatch(client, h, type, payload));
    // Types without a handler reach the wildcard as (client, type, payload) — and a message
    // whose type is the string '*' itself as (client, payload, context): its "type" is
    // whatever the client sent. Either way it is only described, never converted.
    this.onMessage('*', (client: Client, type: unknown) => dispatch(client, null, type, undefined));
  }

  /** `restart`: a fresh world after the player's session ended. */
  #restart(p: PlayerRecord): void {
    if (p.spectating !== null) return void p.client.send('error', { code: 'spectator', message: 'a spectator cannot restart a world' });
    if (!p.view || !p.view.ended) return void p.client.send('error', { code: 'restart', message: 'restart is only for a world whose session ended' });
    if (this.options.mode === 'shared') return this.#restartShared(p);
    const old = p.view;
    this.views.delete(old.id);
    this.state.views.delete(old.id);
    try {
      p.view = this.createView('private', p);
    } catch (e) {
      p.view = null;
      p.state.view = '';
      const limits = this.options.limits;
      if (p.ownsSession && p.limitKey !== null && limits) identityLimiter.sessionClosed(p.limitKey, limits);
      p.ownsSession = false;
      return void p.client.send('error', { code: 'restart', message: e instanceof Error ? e.message : 'the world could not be restarted' });
    }
    p.view.subscribers.add(p);
    this.#setDriver(p.view, p);
    p.state.view = p.view.id;
    p.client.send('welcome', this.welcome(p, false));
    for (const s of this.#spectatorsOf(p)) {
      old.subscribers.delete(s);
      s.view = p.view;
      s.state.view = p.view.id;
      p.view.subscribers.add(s);
      if (s.connected) s.client.send('welcome', this.welcome(s, false));
    }
  }

  /** A fresh shared world for everyone after the shared session ended. */
  #restartShared(requester: PlayerRecord): void {
    const old = this.sharedView!;
    let v: WorldView;
    try {
      v = this.createView('shared');
    } catch (e) {
      return void requester.client.send('error', { code: 'restart', message: e instanceof Error ? e.message : String(e) });
    }
    this.views.delete(old.id);
    this.state.views.delete(old.id);
    this.sharedView = v;
    for (const p of old.subscribers) {
      p.view = v;
      p.state.view = v.id;
      v.subscribers.add(p);
      if (p.connected) p.client.send('welcome', this.welcome(p, false));
    }
    old.subscribers.clear();
    this.#setDriver(v, this.#firstConnected(v));
  }

  /** An invalid message: answer with an error; past maxViolations, disconnect (no reconnection). */
  protected violation(p: PlayerRecord, error: string): void {
    p.violations++;
    worldMetrics.errors.inc({ kind: 'violation' });
    if (p.violations > this.options.maxViolations) {
      p.abusive = true;
      log('warn', 'client_cut_off', { room: this.roomId, client: p.id, identity: p.limitKey, violations: p.violations, last: error });
      p.client.leave(CLOSE.POLICY_VIOLATION, 'too many invalid messages');
      return;
    }
    p.client.send('error', { code: 'invalid_message', message: error });
  }

  /** The `stats` reply. */
  protected statsFor(p: PlayerRecord): Record<string, unknown> {
    const mem = process.memoryUsage();
    const kv = this.engine.model.kvStats();
    return {
      server: { pid: process.pid, rss: mem.rss, heapUsed: mem.heapUsed, uptime: process.uptime() },
      engine: this.engine.stats,
      kv: { budgetBytes: kv.budgetBytes, usedBytes: kv.usedBytes, reservedBytes: kv.reservedBytes, sessions: kv.sessions },
      room: { roomId: this.roomId, tick: this.#tick, players: this.players.size, views: this.views.size },
      you: { view: p.view?.id ?? '', framesSent: p.framesSent, dropped: p.dropped, violations: p.violations },
    };
  }

  // ------------------------------------------------------------------ inspection (tests, admin)

  /** A player's server-side record. */
  getPlayer(sessionId: string): PlayerRecord | undefined {
    return this.players.get(sessionId);
  }

  /** A view by id. */
  getView(id: string): WorldView | undefined {
    return this.views.get(id);
  }
}

/** A refused join's reason label for the metrics. */
function refusalReason(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  if (code === WORLD_ERRORS.KV_FULL) return 'kv_full';
  if (code === WORLD_ERRORS.IDENTITY_CAP) return 'identity_cap';
  if (code === WORLD_ERRORS.NO_SUCH_PLAYER) return 'no_such_player';
  if (code === WORLD_ERRORS.BAD_OPTIONS) return 'options';
  return 'other';
}

/** The first prompt of a model's own vocabulary (its prompts.safetensors), if it ships one. */
function defaultPrompt(model: Model): string | undefined {
  const enc = model.promptEncoder;
  return enc instanceof TablePromptEncoder ? enc.prompts[0] : undefined;
}
