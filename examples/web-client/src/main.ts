// worldcast web client: join a WorldRoom, draw its frames as they arrive, send WASD/space
// and pointer-lock mouse look at the room's tick rate, change the prompt, show live stats,
// and come back by itself when the connection drops.
//
// Page parameters (query string): `room` (default "world"), `token` (a join token; else one
// is fetched from `tokenUrl`, default "/token", which answers {token, endpoint}), `endpoint`
// (the game server's ws:// URL when not given by the token endpoint), `spectate` (a player's
// session id: watch that player's world instead of playing; with `roomId`, the room to join by
// id). The mode picker (bottom right) reloads the page with these for a private world (room
// "world"), the shared one ("world-shared") or a player of the current room to spectate.
import { ColyseusSDK, type Room } from '@colyseus/sdk';

import { decodeEnvelope, type FrameHeader } from './envelope.js';

const KEY_BITS = { w: 1, a: 2, s: 4, d: 8, space: 16 } as const;
type KeyName = keyof typeof KEY_BITS;
const MAX_LOOK = Math.PI / 2;
const LOOK_PER_PIXEL = 0.0025; // radians of look per pixel of pointer movement

const params = new URLSearchParams(location.search);
const roomName = params.get('room') ?? 'world';
const spectate = params.get('spectate');
const roomIdParam = params.get('roomId');
const PRIVATE_ROOM = 'world';
const SHARED_ROOM = 'world-shared';
/** Join refused: the player to spectate is not in the room (the server's WORLD_ERRORS.NO_SUCH_PLAYER). */
const NO_SUCH_PLAYER = 4404;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const canvas = $<HTMLCanvasElement>('screen');
const ctx = canvas.getContext('2d', { alpha: false })!;
const overlay = $<HTMLDivElement>('overlay');
const banner = $<HTMLDivElement>('banner');
const promptForm = $<HTMLFormElement>('promptForm');
const promptInput = $<HTMLInputElement>('prompt');
const promptAck = $<HTMLSpanElement>('promptAck');
const modePicker = $<HTMLFormElement>('modePicker');
const modeSelect = $<HTMLSelectElement>('mode');
const playerSelect = $<HTMLSelectElement>('players');

interface Welcome {
  sessionId: string;
  reconnected: boolean;
  mode: string;
  /** The session id of the player watched ('' when playing). */
  spectating: string;
  view: string;
  tickRate: number;
  ticksPerBlock: number;
  /** Latent frames of the model's block; blocks take minFramesPerBlock..framesPerBlock of them. */
  framesPerBlock: number;
  minFramesPerBlock?: number;
  /** World time of one decoded frame (ms). */
  frameMs?: number;
  decoder: boolean;
  codec: string;
  /** The model's prompt vocabulary (empty: any text). */
  prompts?: string[];
  /** The world's current prompt. */
  prompt?: string;
}

interface Stats {
  server?: { rss: number };
  engine?: { batches: number; blocks: number; errors: number; maxBatch: number; queued: number; busySeconds: number };
  kv?: { budgetBytes: number; usedBytes: number; sessions: number };
  session?: { kvFrames: number; kvBytes: number };
  you?: { framesSent: number; dropped: number };
}

/** Everything the page knows, also read by the end-to-end test (window.__worldcast). */
const live = {
  status: 'connecting' as 'connecting' | 'playing' | 'dropped' | 'gone' | 'ended',
  /** The player this page watches ('' when playing). */
  spectating: '',
  /** Players of the room one may spectate (session ids, from the room state). */
  players: [] as string[],
  joins: 0,
  roomId: '',
  sessionId: '',
  reconnects: 0,
  welcome: null as Welcome | null,
  framesReceived: 0,
  framesDrawn: 0,
  lastHeader: null as FrameHeader | null,
  /** Action conditioning of the newest block (frame 0 headers carry it). */
  lastActions: null as { block: number; input: number; actions: number[] } | null,
  /** The last 32 blocks' conditioning. */
  actionLog: [] as { block: number; input: number; actions: number[] }[],
  /** Look (radians) accumulated from the pointer and sent, in total. */
  lookSent: { dx: 0, dy: 0 },
  inputSeq: 0,
  keys: 0,
  serverDropped: 0,
  seqGaps: 0,
  skipped: 0,
  latencyMs: NaN,
  latencyAvgMs: NaN,
  fps: 0,
  prompt: { text: '', version: 0, fromBlock: -1 },
  stats: null as Stats | null,
  errors: [] as string[],
};
(window as unknown as { __worldcast: typeof live }).__worldcast = live;

let room: Room | null = null;
let connected = false;
let showOverlay = true;
let showProfile = false;

// ------------------------------------------------------------------ drawing
//
// The server sends a block's frames paced over its game time (each frame stands for the
// welcome's frameMs; blocks vary in size). Frames are decoded as they arrive, in order (raw RGB → ImageData,
// JPEG → createImageBitmap), and shown paced over the block's game time. Nothing stale
// piles up: at most one block's worth of frames waits; older ones are skipped (counted),
// frames whose decode has not started while newer ones are that far ahead are not decoded,
// and a frame from another world view (a new session) clears what waits.

interface Ready {
  header: FrameHeader;
  image: ImageBitmap | ImageData;
}

const ready: Ready[] = [];
let decodeChain: Promise<void> = Promise.resolve();
let newestSeq = -1;
let lastSeq = -1;
let lastView = '';
let drawnAt: number[] = [];
let nextDue = 0;
let latencyInput = -1;
const sentAt = new Map<number, number>();

/** Frames allowed to wait: one block's worth. */
const cap = (h: FrameHeader) => Math.max(2, h.frames);

function onFrame(bytes: Uint8Array): void {
  let env;
  try {
    env = decodeEnvelope(bytes);
  } catch (e) {
    live.errors.push(String(e));
    return;
  }
  const h = env.header;
  live.framesReceived++;
  if (h.view !== lastView) {
    dropReady();
    newestSeq = -1;
  } else if (lastSeq >= 0 && h.seq > lastSeq + 1) live.seqGaps += h.seq - lastSeq - 1;
  lastView = h.view;
  lastSeq = h.seq;
  newestSeq = Math.max(newestSeq, h.seq);
  live.serverDropped = h.dropped;
  if (h.actions) {
    live.lastActions = { block: h.block, input: h.input, actions: h.actions };
    live.actionLog.push(live.lastActions);
    if (live.actionLog.length > 32) live.actionLog.shift();
  }
  // Input-to-frame latency: the first frame whose conditioning includes an input we sent.
  if (h.input > latencyInput && sentAt.has(h.input)) {
    const ms = performance.now() - sentAt.get(h.input)!;
    live.latencyMs = ms;
    live.latencyAvgMs = Number.isNaN(live.latencyAvgMs) ? ms : live.latencyAvgMs * 0.8 + ms * 0.2;
    latencyInput = h.input;
    for (const s of sentAt.keys()) if (s <= h.input) sentAt.delete(s);
  }
  const payload = env.payload;
  decodeChain = decodeChain.then(async () => {
    if (h.view !== lastView || newestSeq - h.seq >= cap(h)) {
      live.skipped++; // stale before its turn came
      return;
    }
    let image: ImageBitmap | ImageData;
    try {
      image = await decodeFrame(h, payload);
    } catch (e) {
      live.errors.push(String(e));
      return;
    }
    if (h.view !== lastView) {
      if (image instanceof ImageBitmap) image.close();
      live.skipped++;
      return;
    }
    ready.push({ header: h, image });
    while (ready.length > cap(h)) {
      const old = ready.shift()!;
      if (old.image instanceof ImageBitmap) old.image.close();
      live.skipped++;
    }
  });
}

async function decodeFrame(h: FrameHeader, payload: Uint8Array): Promise<ImageBitmap | ImageData> {
  const { width: w, height: hgt } = h;
  if (h.codec === 'raw') {
    if (payload.length < w * hgt * 3) throw new Error(`raw frame of ${payload.length} bytes, not ${w}×${hgt}×3`);
    const img = new ImageData(w, hgt);
    const d = img.data;
    for (let i = 0, j = 0; i < w * hgt; i++, j += 3) {
      d[i * 4] = payload[j]!;
      d[i * 4 + 1] = payload[j + 1]!;
      d[i * 4 + 2] = payload[j + 2]!;
      d[i * 4 + 3] = 255;
    }
    return img;
  }
  const type = h.codec === 'jpeg' ? 'image/jpeg' : h.codec === 'png' ? 'image/png' : h.codec === 'webp' ? 'image/webp' : '';
  if (!type) throw new Error(`cannot show frames of codec "${h.codec}"`);
  return createImageBitmap(new Blob([payload as Uint8Array<ArrayBuffer>], { type }));
}

function dropReady(): void {
  for (const r of ready.splice(0)) if (r.image instanceof ImageBitmap) r.image.close();
}

/** Milliseconds between frames: the world time of one frame (blocks vary in size). */
function frameInterval(h: FrameHeader): number {
  const w = live.welcome;
  if (w?.frameMs) return w.frameMs;
  const blockMs = w ? (1000 * w.ticksPerBlock) / w.tickRate : 750;
  return blockMs / Math.max(1, h.frames);
}

function present(now: number): void {
  if (ready.length === 0 || now < nextDue) return;
  const f = ready.shift()!;
  paint(f);
  // Behind (more than a block waits): go a little faster until caught up.
  const iv = frameInterval(f.header) * (ready.length >= cap(f.header) - 1 ? 0.75 : 1);
  nextDue = (now - nextDue > iv ? now : nextDue) + iv;
}

function paint({ header: h, image }: Ready): void {
  if (canvas.width !== h.width || canvas.height !== h.height) {
    canvas.width = h.width;
    canvas.height = h.height;
    document.documentElement.style.setProperty('--aspect', String(h.width / h.height));
  }
  if (image instanceof ImageData) ctx.putImageData(image, 0, 0);
  else {
    ctx.drawImage(image, 0, 0, h.width, h.height);
    image.close();
  }
  live.framesDrawn++;
  live.lastHeader = h;
  const now = performance.now();
  drawnAt.push(now);
  drawnAt = drawnAt.filter((t) => now - t <= 1000);
  live.fps = drawnAt.length;
}

const loop = (now: number) => {
  present(now);
  requestAnimationFrame(loop);
};
requestAnimationFrame(loop);
// Hidden tabs get no animation frames: keep the queue moving (and bounded) anyway.
setInterval(() => {
  if (document.hidden) present(performance.now());
}, 50);

// ------------------------------------------------------------------ input

const held = new Set<KeyName>();
let lookX = 0;
let lookY = 0;

function keyName(e: KeyboardEvent): KeyName | null {
  if (e.code === 'Space') return 'space';
  const k = e.key.toLowerCase();
  return k === 'w' || k === 'a' || k === 's' || k === 'd' ? k : null;
}

function typing(e: Event): boolean {
  return e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement || e.target instanceof HTMLSelectElement;
}

function showKeys(): void {
  for (const el of document.querySelectorAll<HTMLElement>('#keys kbd[data-key]')) el.classList.toggle('down', held.has(el.dataset.key as KeyName));
}

window.addEventListener('keydown', (e) => {
  if (typing(e)) {
    if (e.key === 'Escape') {
      promptInput.blur();
      canvas.focus();
    }
    return;
  }
  const k = keyName(e);
  if (k) {
    held.add(k);
    showKeys();
    e.preventDefault();
    return;
  }
  if (e.key === 'Enter') {
    e.preventDefault();
    if (document.pointerLockElement) document.exitPointerLock();
    promptInput.focus();
  } else if (e.key === 'p' || e.key === 'P') {
    showProfile = !showProfile;
    room?.send('stats');
  } else if (e.key === 'F3') {
    e.preventDefault();
    showOverlay = !showOverlay;
    overlay.style.display = showOverlay ? '' : 'none';
  } else if ((e.key === 'r' || e.key === 'R') && live.status === 'ended') {
    room?.send('restart');
  }
});
window.addEventListener('keyup', (e) => {
  const k = keyName(e);
  if (k) {
    held.delete(k);
    showKeys();
  }
});
const releaseAll = () => {
  held.clear();
  showKeys();
};
window.addEventListener('blur', releaseAll);
document.addEventListener('visibilitychange', releaseAll);

canvas.addEventListener('click', () => {
  canvas.focus();
  if (!document.pointerLockElement) {
    try {
      const r = canvas.requestPointerLock() as unknown as Promise<void> | undefined;
      r?.catch?.(() => undefined); // headless browsers and iframes may refuse
    } catch {
      /* pointer lock unavailable */
    }
  }
});
document.addEventListener('mousemove', (e) => {
  if (document.pointerLockElement !== canvas) return;
  lookX += e.movementX * LOOK_PER_PIXEL;
  lookY += e.movementY * LOOK_PER_PIXEL;
});

let inputTimer: ReturnType<typeof setInterval> | null = null;

function stopInput(): void {
  if (inputTimer) clearInterval(inputTimer);
  inputTimer = null;
}

function startInput(tickRate: number): void {
  if (inputTimer) clearInterval(inputTimer);
  const hz = Math.max(1, Math.min(tickRate, 30)); // stay well under the room's message rate limit
  inputTimer = setInterval(sendInput, 1000 / hz);
}

function sendInput(): void {
  if (!room || !connected) return;
  let keys = 0;
  for (const k of held) keys |= KEY_BITS[k];
  const dx = Math.max(-MAX_LOOK, Math.min(MAX_LOOK, lookX));
  const dy = Math.max(-MAX_LOOK, Math.min(MAX_LOOK, lookY));
  lookX -= dx;
  lookY -= dy;
  live.lookSent.dx += dx;
  live.lookSent.dy += dy;
  const seq = ++live.inputSeq;
  live.keys = keys;
  sentAt.set(seq, performance.now());
  if (sentAt.size > 2000) sentAt.delete(sentAt.keys().next().value!);
  room.send('input', { seq, keys, dx, dy });
}

// ------------------------------------------------------------------ prompt

/** The model's vocabulary as suggestions of the prompt box (a datalist), the current prompt as its placeholder. */
function offerPrompts(prompts: string[], current: string): void {
  let list = document.getElementById('promptList') as HTMLDataListElement | null;
  if (!list) {
    list = document.createElement('datalist');
    list.id = 'promptList';
    document.body.appendChild(list);
    promptInput.setAttribute('list', list.id);
  }
  list.replaceChildren(...prompts.map((p) => Object.assign(document.createElement('option'), { value: p })));
  if (prompts.length) promptInput.placeholder = `${current || prompts[0]} (try: ${prompts.join(', ')})`;
}

promptForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = promptInput.value.trim();
  if (!text || !room || !connected) return;
  room.send('prompt', { text });
  promptAck.textContent = 'sent…';
  promptInput.blur();
  canvas.focus();
});

// ------------------------------------------------------------------ connection

function setBanner(text: string, error = false): void {
  banner.textContent = text;
  banner.classList.toggle('show', text.length > 0);
  banner.classList.toggle('error', error);
}

async function fetchToken(): Promise<{ token: string; endpoint: string }> {
  const given = params.get('token');
  const endpoint = params.get('endpoint');
  if (given && endpoint) return { token: given, endpoint };
  const r = await fetch(params.get('tokenUrl') ?? '/token', { cache: 'no-store' });
  if (!r.ok) throw new Error(`token endpoint answered ${r.status}`);
  const j = (await r.json()) as { token: string; endpoint?: string };
  return { token: given ?? j.token, endpoint: endpoint ?? j.endpoint ?? `ws://${location.hostname}:2567` };
}

let rejoinTimer: ReturnType<typeof setTimeout> | null = null;
let attempt = 0;

function scheduleJoin(reason: string): void {
  if (rejoinTimer) return;
  const delay = Math.min(5000, 250 * 2 ** attempt++);
  setBanner(`${reason}\nrejoining in ${(delay / 1000).toFixed(1)} s…`, true);
  rejoinTimer = setTimeout(() => {
    rejoinTimer = null;
    void join();
  }, delay);
}

async function join(): Promise<void> {
  live.status = 'connecting';
  let r: Room;
  try {
    const { token, endpoint } = await fetchToken();
    const sdk = new ColyseusSDK(endpoint);
    sdk.auth.token = token;
    const options = spectate ? { spectate } : {};
    r = roomIdParam ? await sdk.joinById(roomIdParam, options) : await sdk.joinOrCreate(roomName, options);
  } catch (e) {
    live.status = 'gone';
    if ((e as { code?: unknown }).code === NO_SUCH_PLAYER) {
      live.errors.push(e instanceof Error ? e.message : String(e));
      setBanner(`${e instanceof Error ? e.message : String(e)}\npick another mode below`, true);
      return;
    }
    scheduleJoin(`the game server is unreachable (${e instanceof Error ? e.message : String(e)})`);
    return;
  }
  attempt = 0;
  room = r;
  connected = true;
  live.joins++;
  lastView = '';
  dropReady();
  live.roomId = r.roomId;
  live.sessionId = r.sessionId;
  latencyInput = -1;
  sentAt.clear();
  r.reconnection.minUptime = 0;
  r.reconnection.maxRetries = 8;
  r.reconnection.maxDelay = 2000;
  r.onMessage('frame', (b: Uint8Array) => onFrame(b));
  r.onMessage('welcome', (w: Welcome) => {
    live.welcome = w;
    live.status = 'playing';
    offerPrompts(w.prompts ?? [], w.prompt ?? '');
    live.spectating = w.spectating ?? '';
    setBanner('');
    if (live.spectating) stopInput(); // a spectator drives nothing
    else startInput(w.tickRate);
    showMode();
  });
  r.onMessage('spectate_ended', (m: { target: string; message: string }) => {
    live.status = 'ended';
    setBanner(`${m.message}\npick another mode below`, true);
  });
  r.onMessage('prompt', (m: { text: string; version: number; fromBlock: number }) => {
    live.prompt = m;
    promptAck.textContent = `✓ v${m.version} from block ${m.fromBlock}`;
  });
  r.onMessage('stats', (s: Stats) => {
    live.stats = s;
  });
  r.onMessage('error', (m: { code: string; message: string }) => {
    live.errors.push(`${m.code}: ${m.message}`);
    if (m.code === 'invalid_message' || m.code === 'prompt' || m.code === 'spectator') promptAck.textContent = `✗ ${m.message}`;
  });
  r.onMessage('session_ended', (m: { message: string }) => {
    live.status = 'ended';
    setBanner(`the world session ended: ${m.message}\npress R for a fresh world`, true);
  });
  r.onDrop((code: number) => {
    connected = false;
    live.status = 'dropped';
    releaseAll();
    setBanner(`connection to the game server lost (${code}); reconnecting…`, true);
  });
  r.onReconnect(() => {
    connected = true;
    live.reconnects++;
    live.status = 'playing';
    setBanner('');
  });
  r.onLeave((code: number) => {
    connected = false;
    if (room === r) room = null;
    if (code === 1000 || code === 4000) {
      live.status = 'gone';
      setBanner('you left the world', false);
      return;
    }
    live.status = 'gone';
    scheduleJoin(`the game server is gone (code ${code})`);
  });
}

// ------------------------------------------------------------------ overlay

const mib = (b: number) => `${(b / 1048576).toFixed(2)} MiB`;
const ms = (x: number) => (Number.isNaN(x) ? '—' : `${x.toFixed(0)} ms`);

function renderOverlay(): void {
  if (!showOverlay) return;
  const w = live.welcome;
  const h = live.lastHeader;
  const s = live.stats;
  const lines = [
    `worldcast · ${roomName}${w ? ` (${w.mode})` : ''} · ${live.spectating ? `spectating ${live.spectating} · ` : ''}${live.status}`,
    h ? `frame ${h.width}×${h.height} ${h.codec} · block ${h.block} · seq ${h.seq}` : 'no frames yet',
    `fps ${live.fps}`,
    `input→frame ${ms(live.latencyMs)} (avg ${ms(live.latencyAvgMs)})`,
    `dropped ${live.serverDropped + live.seqGaps + live.skipped} (server ${live.serverDropped}, gaps ${live.seqGaps}, skipped ${live.skipped})`,
    s?.session ? `KV session ${mib(s.session.kvBytes)} (${s.session.kvFrames} frames)` : 'KV session —',
    s?.kv ? `KV pool ${mib(s.kv.usedBytes)} / ${mib(s.kv.budgetBytes)} · ${s.kv.sessions} sessions` : 'KV pool —',
    `prompt v${live.prompt.version}${live.prompt.text ? ` "${live.prompt.text.slice(0, 28)}"` : ''}`,
    `reconnects ${live.reconnects} · joins ${live.joins}`,
  ];
  if (showProfile && s?.engine) {
    const e = s.engine;
    lines.push(
      '— server profile (P) —',
      `engine ${e.blocks} blocks in ${e.batches} batches (max ${e.maxBatch})`,
      `busy ${e.busySeconds.toFixed(2)} s · queued ${e.queued} · errors ${e.errors}`,
      s.server ? `server RSS ${mib(s.server.rss)}` : '',
    );
  }
  overlay.textContent = lines.join('\n');
}

setInterval(() => {
  if (room && connected) room.send('stats');
  const now = performance.now();
  drawnAt = drawnAt.filter((t) => now - t <= 1000);
  live.fps = drawnAt.length;
}, 1000);
setInterval(renderOverlay, 200);

// ------------------------------------------------------------------ mode picker

type PlayerStates = { forEach(cb: (p: { spectating?: string }, id: string) => void): void };

/** The picker shows the page's mode; the player list is for spectating. */
function showMode(): void {
  const mode = live.welcome?.mode ?? (roomName === SHARED_ROOM ? 'shared' : 'private');
  modeSelect.value = live.spectating || spectate ? 'spectate' : mode === 'shared' ? 'shared' : 'private';
  playerSelect.disabled = modeSelect.value !== 'spectate';
}

/** The room's players (not spectators, not this page) from the room state. */
function refreshPlayers(): void {
  const players = (room?.state as { players?: PlayerStates } | undefined)?.players;
  const ids: string[] = [];
  players?.forEach((p, id) => {
    if (id !== live.sessionId && !p.spectating) ids.push(id);
  });
  live.players = ids;
  const have = [...playerSelect.options].map((o) => o.value);
  if (have.join() === ids.join()) return;
  const keep = playerSelect.value || live.spectating;
  playerSelect.replaceChildren(...ids.map((id) => new Option(id === live.spectating ? `${id} (watching)` : id, id)));
  if (ids.includes(keep)) playerSelect.value = keep;
}

modeSelect.addEventListener('change', () => {
  playerSelect.disabled = modeSelect.value !== 'spectate';
});

modePicker.addEventListener('submit', (e) => {
  e.preventDefault();
  const next = new URLSearchParams(location.search);
  next.delete('roomId');
  next.delete('spectate');
  if (modeSelect.value === 'spectate') {
    const target = playerSelect.value;
    if (!target) return void setBanner('no player to spectate in this room yet', true);
    next.set('room', roomName);
    if (live.roomId) next.set('roomId', live.roomId);
    next.set('spectate', target);
  } else next.set('room', modeSelect.value === 'shared' ? SHARED_ROOM : PRIVATE_ROOM);
  location.search = next.toString();
});

showMode();
setInterval(refreshPlayers, 500);

void join();
