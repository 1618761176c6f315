// The web client (examples/web-client) end to end in headless Debian Chromium over loopback:
// `startDemo` builds the page with Vite, starts the game server (tiny model + tiny decoder)
// and serves the page; playwright-core drives /usr/bin/chromium. The page loads, joins a
// WorldRoom, draws frames (canvas pixels change), a held key changes the next blocks'
// conditioning (frame envelope `actions` and the server's player record), a prompt change
// is acknowledged, and the page reconnects by itself after the server drops its socket.
// A screenshot of the page during play is saved to a temp folder (path printed).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { matchMaker } from '@colyseus/core';

import { DemoRoom, startDemo, type Demo } from '../examples/web-client/demo.js';
import { startWorldServer, type WorldRoom, type WorldServer } from '../gameserver/src/index.js';
import { root } from './helpers/fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`web_client.test.ts: ${CHROMIUM} is missing (apt-get install -y chromium); skipping`);

interface Live {
  status: string;
  joins: number;
  reconnects: number;
  roomId: string;
  sessionId: string;
  spectating: string;
  players: string[];
  framesReceived: number;
  framesDrawn: number;
  skipped: number;
  inputSeq: number;
  keys: number;
  lastHeader: { view: string; block: number; seq: number; input: number; prompt: number; width: number; height: number; codec: string } | null;
  lastActions: { block: number; input: number; actions: number[] } | null;
  actionLog: { block: number; input: number; actions: number[] }[];
  lookSent: { dx: number; dy: number };
  prompt: { text: string; version: number; fromBlock: number };
  stats: { session?: { kvBytes: number } } | null;
  latencyMs: number;
  errors: string[];
}

describe.skipIf(!haveChromium)('web client in headless Chromium', () => {
  let demo: Demo;
  let browser: BrowserContext;
  let page: Page;
  let tmp: string;
  const pageErrors: string[] = [];
  let world2: WorldServer | null = null;

  // Page-side code is given as strings: this file is type-checked without the DOM library.
  const live = async (): Promise<Live> => JSON.parse((await page.evaluate('JSON.stringify(window.__worldcast)')) as string) as Live;

  async function until(pred: (l: Live) => boolean, what: string, timeoutMs = 8000): Promise<Live> {
    const t0 = Date.now();
    for (;;) {
      const l = await live();
      if (pred(l)) return l;
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}; page state: ${JSON.stringify({ ...l, lastActions: l.lastActions?.actions.slice(0, 7) })}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** A hash of the canvas' pixels (of the first page, or another). */
  const canvasHash = (on: Page = page): Promise<string> =>
    on.evaluate(`(() => {
      const c = document.getElementById('screen');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let h = 2166136261;
      for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i], 16777619);
      return c.width + 'x' + c.height + ':' + (h >>> 0).toString(16);
    })()`) as Promise<string>;

  function serverRoom(roomId: string): WorldRoom {
    return matchMaker.getLocalRoomById(roomId) as unknown as WorldRoom;
  }

  beforeAll(async () => {
    // The browser code has its own tsconfig (lib DOM); the root one excludes it.
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'examples', 'web-client', 'tsconfig.json')], { stdio: 'pipe' });
    tmp = mkdtempSync(join(tmpdir(), 'worldcast-web-'));
    demo = await startDemo({ port: 0, serverPort: 0, threads: 1, modelDir: 'test/fixtures/tiny', decoderDir: 'test/fixtures/taehv_tiny', outDir: join(tmp, 'dist'), room: { reconnectGraceSeconds: 10, frameActions: true }, extraRooms: { 'world-jpeg': { codec: 'jpeg', reconnectGraceSeconds: 10, frameActions: true } } });
    // A fresh profile (--user-data-dir, which playwright takes as this argument).
    browser = await chromium.launchPersistentContext(join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-quic',
        '--disable-sync',
      ],
      viewport: { width: 960, height: 600 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('pageerror', (e) => pageErrors.push(String(e)));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await world2?.close();
    await demo?.close();
    if (tmp) rmSync(join(tmp, 'profile'), { recursive: true, force: true });
  });

  it('loads the page, joins a WorldRoom and draws frames as they arrive', async () => {
    await page.goto(demo.url);
    const l = await until((x) => x.status === 'playing' && x.framesDrawn >= 3, 'frames drawn');
    expect(l.joins).toBe(1);
    expect(l.lastHeader).toMatchObject({ width: 16, height: 16, codec: 'raw' });
    const room = serverRoom(l.roomId);
    expect(room.getPlayer(l.sessionId)).toBeDefined();
    // The canvas' pixels change as frames arrive.
    const hashes = new Set<string>([await canvasHash()]);
    const t0 = Date.now();
    while (hashes.size < 3 && Date.now() - t0 < 8000) {
      await new Promise((r) => setTimeout(r, 100));
      hashes.add(await canvasHash());
    }
    expect(hashes.size).toBeGreaterThanOrEqual(3);
    expect([...hashes][0]).toMatch(/^16x16:/);
  });

  it('shows a block\'s frames paced over its game time, not in one burst, and skips none at the real-time rate', async () => {
    const before = await live();
    const seen: string[] = [];
    const t0 = Date.now();
    while (Date.now() - t0 < 1500) {
      const h = await canvasHash();
      if (seen.at(-1) !== h) seen.push(h);
      await new Promise((r) => setTimeout(r, 20));
    }
    // Blocks of 12 frames come every 0.73 s: drawn in a burst, 1.5 s would show 2-3 pictures.
    expect(seen.length).toBeGreaterThanOrEqual(8);
    const after = await live();
    const drawn = after.framesDrawn - before.framesDrawn;
    expect(drawn).toBeGreaterThanOrEqual(10);
    expect(after.skipped - before.skipped).toBeLessThanOrEqual(2);
  });

  it('sends a held key as input; the next blocks are conditioned on it', async () => {
    await page.focus('#screen');
    const before = await live();
    expect(before.keys).toBe(0);
    await page.keyboard.down('w');
    try {
      // A block whose conditioning includes an input sent after the press, with w set (index 0 of each frame's action).
      const l = await until((x) => x.keys === 1 && !!x.lastActions && x.lastActions.input > before.inputSeq + 1 && x.lastActions.actions[0] === 1, 'a block conditioned on w');
      const p = serverRoom(l.roomId).getPlayer(l.sessionId)!;
      expect(p.input.keys).toBe(1);
      expect(p.state.inputSeq).toBeGreaterThan(before.inputSeq);
      expect(p.character!.z).toBeLessThan(0); // walked towards -Z
      expect(await page.locator('#keys kbd[data-key="w"]').getAttribute('class')).toContain('down');
      await page.screenshot({ path: join(tmp, 'web-client.png') });
      console.log(`web client screenshot: ${join(tmp, 'web-client.png')}`);
    } finally {
      await page.keyboard.up('w');
    }
    // Released: later blocks stand still again.
    const up = await live();
    await until((x) => x.keys === 0 && !!x.lastActions && x.lastActions.input > up.inputSeq + 1 && x.lastActions.actions.every((a) => a === 0), 'a block conditioned on no keys');
    expect(statSync(join(tmp, 'web-client.png')).size).toBeGreaterThan(1000);
  });

  it('captures the mouse (pointer lock) and turns mouse motion into look input and turn conditioning', async () => {
    const before = await live();
    const yaw0 = serverRoom(before.roomId).getPlayer(before.sessionId)!.character!.yaw;
    await page.mouse.move(480, 300);
    await page.mouse.click(480, 300);
    await page.waitForFunction("document.pointerLockElement && document.pointerLockElement.id === 'screen'", undefined, { timeout: 3000 });
    for (let i = 1; i <= 20; i++) {
      await page.mouse.move(480 + i * 15, 300); // 300 px to the right in all
      await page.waitForTimeout(15);
    }
    const turnRight = (x: Live) => x.actionLog.some((a) => a.input > before.inputSeq && a.actions.some((v, i) => i % 7 === 5 && v > 0.01));
    const l = await until((x) => x.lookSent.dx > 0.5 && turnRight(x), 'a block conditioned on turning right');
    expect(l.lookSent.dy).toBeCloseTo(0, 6);
    expect(serverRoom(l.roomId).getPlayer(l.sessionId)!.character!.yaw).toBeLessThan(yaw0 - 0.3); // dx > 0 turns right
    await page.evaluate('document.exitPointerLock()');
  });

  it('shows fps, input-to-frame latency, drops and the session KV memory in the overlay', async () => {
    await until((x) => !!x.stats?.session && x.stats.session.kvBytes > 0 && !Number.isNaN(x.latencyMs) && x.latencyMs !== null, 'stats and a latency sample');
    await page.waitForTimeout(300);
    const text = (await page.locator('#overlay').textContent()) ?? '';
    expect(text).toMatch(/fps \d+/);
    expect(text).toMatch(/input→frame \d+ ms/);
    expect(text).toMatch(/dropped \d+/);
    expect(text).toMatch(/KV session \d+\.\d+ MiB \(\d+ frames\)/);
    expect(await page.locator('#keys').textContent()).toMatch(/move.*jump/s);
  });

  it('changes the prompt and shows the acknowledgement', async () => {
    await page.keyboard.press('Enter'); // focuses the prompt box
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('prompt');
    await page.keyboard.type('a snowy forest');
    await page.keyboard.press('Enter');
    const l = await until((x) => x.prompt.version === 1, 'prompt acknowledgement');
    expect(l.prompt.text).toBe('a snowy forest');
    expect(await page.locator('#promptAck').textContent()).toContain('✓ v1');
    await until((x) => !!x.lastHeader && x.lastHeader.block >= l.prompt.fromBlock && x.lastHeader.prompt === 1, 'frames with the new prompt');
    const room = serverRoom(l.roomId);
    const v = room.getPlayer(l.sessionId)!.view!;
    expect(v.state.prompt).toBe('a snowy forest');
  });

  it('reconnects by itself when the server drops the socket, to the same world', async () => {
    const before = await until((x) => x.status === 'playing', 'playing');
    const room = serverRoom(before.roomId);
    const p = room.getPlayer(before.sessionId)!;
    const view = p.view!;
    (p.client.ref as unknown as { terminate(): void }).terminate(); // an abrupt drop (1006), no leave
    await until((x) => x.reconnects === 1 && x.status === 'playing', 'reconnected', 15_000);
    const after = await until((x) => x.framesDrawn > before.framesDrawn + 6, 'frames after reconnecting');
    expect(after.sessionId).toBe(before.sessionId);
    expect(after.joins).toBe(1);
    expect(room.getPlayer(after.sessionId)!.view).toBe(view); // same session and KV pages
    expect(await page.locator('#banner').isVisible()).toBe(false);
    expect(pageErrors).toEqual([]);
  });

  it('draws JPEG frames (createImageBitmap) in a second page, a second player alongside the first', async () => {
    const second = await browser.newPage();
    try {
      second.on('pageerror', (e) => pageErrors.push(String(e)));
      await second.goto(`${demo.url}?room=world-jpeg`);
      const t0 = Date.now();
      let l: Live | null = null;
      while (Date.now() - t0 < 8000) {
        l = JSON.parse((await second.evaluate('JSON.stringify(window.__worldcast)')) as string) as Live;
        if (l.framesDrawn >= 3) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(l!.framesDrawn).toBeGreaterThanOrEqual(3);
      expect(l!.lastHeader).toMatchObject({ codec: 'jpeg', width: 16, height: 16 });
      expect(l!.errors).toEqual([]);
      // Drawn: the canvas holds the frame (not the blank start).
      const lit = (await second.evaluate(`(() => {
        const c = document.getElementById('screen');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let s = 0;
        for (let i = 0; i < d.length; i += 4) s += d[i] + d[i + 1] + d[i + 2];
        return s;
      })()`)) as number;
      expect(lit).toBeGreaterThan(0);
      // The first page kept playing meanwhile.
      const first = await live();
      await until((x) => x.framesDrawn > first.framesDrawn + 3, 'first page still streaming');
    } finally {
      await second.close();
    }
  });

  it('spectates the first page\'s player from a second page, picked in the mode picker; its canvas changes as frames arrive', async () => {
    const first = await until((x) => x.status === 'playing', 'first page playing');
    const target = serverRoom(first.roomId).getPlayer(first.sessionId)!;
    const second = await browser.newPage();
    const liveOf = async (): Promise<Live> => JSON.parse((await second.evaluate('JSON.stringify(window.__worldcast)')) as string) as Live;
    const untilSecond = async (pred: (l: Live) => boolean, what: string, timeoutMs = 8000): Promise<Live> => {
      const t0 = Date.now();
      for (;;) {
        const l = await liveOf();
        if (pred(l)) return l;
        if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}; second page state: ${JSON.stringify({ ...l, actionLog: undefined })}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    try {
      second.on('pageerror', (e) => pageErrors.push(String(e)));
      // Joined as a player of the same room first: the picker lists the first page's player.
      await second.goto(`${demo.url}?room=world`);
      const own = await untilSecond((x) => x.status === 'playing' && x.players.includes(first.sessionId), 'the first player in the picker');
      expect(own.roomId).toBe(first.roomId);
      expect(own.spectating).toBe('');
      expect(await second.locator('#mode').inputValue()).toBe('private');
      await second.selectOption('#mode', 'spectate');
      await second.selectOption('#players', first.sessionId);
      await Promise.all([second.waitForURL(/spectate=/), second.click('#go')]);
      expect(second.url()).toContain(`spectate=${encodeURIComponent(first.sessionId)}`);
      const l = await untilSecond((x) => x.spectating === first.sessionId && x.status === 'playing' && x.framesDrawn >= 3, 'spectated frames drawn');
      expect(await second.locator('#mode').inputValue()).toBe('spectate');
      expect(l.lastHeader!.view).toBe(target.view!.id); // the first player's world
      const spectator = serverRoom(first.roomId).getPlayer(l.sessionId)!;
      expect(spectator.spectating).toBe(first.sessionId);
      expect(spectator.character).toBeNull();
      expect(target.view!.driver).toBe(target);
      // The canvas' pixels change as frames arrive.
      const hashes = new Set<string>([await canvasHash(second)]);
      const t0 = Date.now();
      while (hashes.size < 3 && Date.now() - t0 < 8000) {
        await new Promise((r) => setTimeout(r, 100));
        hashes.add(await canvasHash(second));
      }
      expect(hashes.size).toBeGreaterThanOrEqual(3);
      const after = await liveOf();
      expect(after.inputSeq).toBe(0); // a spectator sends no input
      expect(after.errors).toEqual([]);
      expect(await second.locator('#overlay').textContent()).toContain(`spectating ${first.sessionId}`);
      // The first page kept playing meanwhile.
      const again = await live();
      await until((x) => x.framesDrawn > again.framesDrawn + 3, 'first page still streaming');
    } finally {
      await second.close();
    }
  });

  it('says so when the game server is gone, and rejoins when it is back', async () => {
    const before = await until((x) => x.status === 'playing', 'playing');
    const port = demo.world.port;
    await demo.world.close(); // the whole game server goes away
    await page.locator('#banner').waitFor({ state: 'visible', timeout: 8000 });
    expect(await page.locator('#banner').textContent()).toMatch(/lost|gone|unreachable/);
    expect((await live()).status).not.toBe('playing');
    // A new game server on the same address (same token secret): the page joins it by itself.
    world2 = await startWorldServer({
      port,
      roomClass: DemoRoom,
      model: { modelDir: join(root, 'test', 'fixtures', 'tiny'), decoderDir: join(root, 'test', 'fixtures', 'taehv_tiny'), threads: 1 },
      rooms: { world: { mode: 'private', auth: { secret: demo.secret } } },
    });
    const back = await until((x) => x.joins === before.joins + 1 && x.status === 'playing' && x.framesDrawn > before.framesDrawn + 3, 'rejoined the new server', 20_000);
    expect(back.roomId).not.toBe(before.roomId);
    expect(await page.locator('#banner').isVisible()).toBe(false);
    expect(pageErrors).toEqual([]);
  });
});
