// Issue 19 in the browser: two headless Chromium pages play in one room of the demo's default
// world (the default model and decoder, JPEG frames as `npm run demo` sends them). Page B holds
// `w` and walks into page A's view, stands there, then holds `s` and walks back out. What A's
// canvas shows is read back (getImageData) and searched with the eval's character detector
// (tools/eval/characters.ts, pixels only) for B's colour: it is on A's page while B stands in
// A's view and gone after B left. The truth renderer, from A's pose with B's capsule where the
// room's physics has it, checks the scenario itself (B in A's view, then out of it).
//
// The second test holds A's page to it: B's player on A's page in >= 80% of the samples while
// B stands in view, in <= 10% after B left. (The default weights before their sharp stage drew
// no detectable character, 0 of 24 samples; these show it in 24 of 24 with the server's JPEG
// quality 85 — at 80 the 8x8 quantisation lost it in up to half of them, see codec.ts.)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { matchMaker } from '@colyseus/core';

import { startDemo, type Demo } from '../examples/web-client/demo.js';
import { defaultLevel, eyeFromCharacter, renderView, type WorldRoom } from '../gameserver/src/index.js';
import { colorIndex, detectCharacters, viewTruth } from '../tools/eval/characters.js';
import { root } from './helpers/fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`web_multiplayer.test.ts: ${CHROMIUM} is missing (apt-get install -y chromium); skipping`);

/** B walks forward from its spawn (2 m to A's right, facing A's way) to this z: ~27° right of A's view centre. */
const STAND_Z = -4;

interface Live {
  status: string;
  roomId: string;
  sessionId: string;
  framesDrawn: number;
  lastHeader: { width: number; height: number; codec: string } | null;
}

describe.skipIf(!haveChromium)("headless Chromium: page A sees page B's player walk into its view and out again", () => {
  let demo: Demo;
  let browser: BrowserContext;
  let tmp: string;
  const pageErrors: string[] = [];

  const live = async (p: Page): Promise<Live> => JSON.parse((await p.evaluate('JSON.stringify(window.__worldcast)')) as string) as Live;
  async function until(p: Page, pred: (l: Live) => boolean, what: string, timeoutMs = 60_000): Promise<Live> {
    const t0 = Date.now();
    for (;;) {
      const l = await live(p);
      if (pred(l)) return l;
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}; page state: ${JSON.stringify(l)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  async function waitFor(pred: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    const t0 = Date.now();
    while (!pred()) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  /** The canvas' pixels as RGB bytes (the page draws each frame at its own size), passed as a latin1 string. */
  async function canvasRgb(p: Page): Promise<{ width: number; height: number; rgb: Uint8Array }> {
    const { width, height, data } = (await p.evaluate(`(() => {
      const c = document.getElementById('screen');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const parts = [];
      for (let i = 0; i < d.length; i += 4) parts.push(String.fromCharCode(d[i], d[i + 1], d[i + 2]));
      return { width: c.width, height: c.height, data: parts.join('') };
    })()`)) as { width: number; height: number; data: string };
    return { width, height, rgb: new Uint8Array(Buffer.from(data, 'latin1')) };
  }

  beforeAll(async () => {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'examples', 'web-client', 'tsconfig.json')], { stdio: 'pipe' });
    tmp = mkdtempSync(join(tmpdir(), 'worldcast-web-mp-'));
    // The demo as `npm run demo` starts it (default model, its decoder, 'auto' codec: JPEG at 128x128), in daylight.
    demo = await startDemo({ port: 0, serverPort: 0, threads: 2, outDir: join(tmp, 'dist'), room: { prompt: 'day', reconnectGraceSeconds: 0 } });
    browser = await chromium.launchPersistentContext(join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync', '--disable-renderer-backgrounding', '--disable-background-timer-throttling', '--disable-backgrounding-occluded-windows'],
      viewport: { width: 960, height: 600 },
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** What A's page showed: samples while B stood in A's view, and after B left. */
  let seen: { standing: { truth: boolean; shown: boolean }[]; gone: { truth: boolean; shown: boolean }[] } | null = null;

  it("the scenario in the browser: B walks into A's view and out again, as the truth renderer has it; A's canvas is read back", async () => {
    const a = browser.pages()[0] ?? (await browser.newPage());
    a.on('pageerror', (e) => pageErrors.push(String(e)));
    await a.goto(`${demo.url}?room=world`);
    const la = await until(a, (x) => x.status === 'playing' && x.framesDrawn >= 6, "A's first frames");
    expect(la.lastHeader).toMatchObject({ width: 128, height: 128, codec: 'jpeg' });
    const b = await browser.newPage();
    b.on('pageerror', (e) => pageErrors.push(String(e)));
    await b.goto(`${demo.url}?room=world&roomId=${encodeURIComponent(la.roomId)}`);
    const lb = await until(b, (x) => x.status === 'playing' && x.framesDrawn >= 3, "B's first frames");
    expect(lb.roomId).toBe(la.roomId);
    const room = matchMaker.getLocalRoomById(la.roomId) as unknown as WorldRoom;
    const pa = room.getPlayer(la.sessionId)!;
    const pb = room.getPlayer(lb.sessionId)!;
    expect(pb.character!.spawnIndex).toBe(1); // 2 m to A's right, facing A's way: out of A's view
    const color = colorIndex(pb.color);
    expect(color).toBeGreaterThanOrEqual(0);

    /** `n` samples of A's canvas, ~100 ms apart, each with whether the truth (A's pose now, B where it is) shows B and whether the detector finds B's colour on the canvas. */
    async function watchA(n: number): Promise<{ truth: boolean; shown: boolean }[]> {
      const out: { truth: boolean; shown: boolean }[] = [];
      while (out.length < n) {
        const { width, height, rgb } = await canvasRgb(a);
        const pose = pa.character!.pose();
        const cam = eyeFromCharacter(pose);
        const others = [pb.character!.shape(pb.color)];
        const truthFrame = renderView(defaultLevel, cam, 'day', width, height, undefined, others);
        const truth = viewTruth(defaultLevel, cam, others, truthFrame, 'day', width, height).some((t) => t.color === color && t.visible);
        const shown = detectCharacters(rgb, width, height, 'day', { level: defaultLevel, colors: [color], pitch: pose.pitch }).length > 0;
        out.push({ truth, shown });
        await new Promise((r) => setTimeout(r, 100));
      }
      return out;
    }

    // B walks into A's view (keys go to the page that has focus) and stops there.
    await b.bringToFront();
    await b.focus('#screen');
    await b.keyboard.down('w');
    try {
      await waitFor(() => pb.character!.z <= STAND_Z, 'B at its place');
    } finally {
      await b.keyboard.up('w');
    }
    await a.bringToFront();
    // Blocks conditioned on B standing there reach A's canvas within the server's lead and one block.
    await new Promise((r) => setTimeout(r, 2000));
    const standing = await watchA(24);
    if (process.env.WORLDCAST_SHOTS) await a.screenshot({ path: join(process.env.WORLDCAST_SHOTS, 'web_multiplayer_a.png') });
    expect(standing.every((s) => s.truth)).toBe(true); // the scenario: B is in A's view
    const shown = standing.filter((s) => s.shown).length;

    // B walks back out of A's view.
    await b.bringToFront();
    await b.focus('#screen');
    await b.keyboard.down('s');
    try {
      await waitFor(() => pb.character!.z >= 0.5, 'B back out of the view');
    } finally {
      await b.keyboard.up('s');
    }
    await a.bringToFront();
    await new Promise((r) => setTimeout(r, 2000));
    const gone = await watchA(20);
    expect(gone.some((s) => s.truth)).toBe(false); // the scenario: B is out of A's view
    const still = gone.filter((s) => s.shown).length;
    const marks = (xs: { shown: boolean }[]): string => xs.map((s) => (s.shown ? 'B' : '.')).join('');
    console.log(`A's page: B shown in ${shown}/${standing.length} samples while B stood in view (${marks(standing)}), in ${still}/${gone.length} after B left (${marks(gone)})`);
    expect(pageErrors).toEqual([]);
    seen = { standing, gone };
    await b.close();
  }, 240_000);

  it("A's page shows B's player where B stands (>= 80% of the samples), and not after B left (<= 10%)", () => {
    if (!seen) throw new Error("the scenario test did not record A's page");
    expect(seen.standing.filter((s) => s.shown).length).toBeGreaterThanOrEqual(0.8 * seen.standing.length);
    expect(seen.gone.filter((s) => s.shown).length).toBeLessThanOrEqual(0.1 * seen.gone.length);
  });
});
