// The layout's import rules (ARCHITECTURE.md): data flows one way. world/ knows no network
// (no Colyseus, no gameserver/, no wire protocol); env/ and tools/ take the simulation from
// world/, never from gameserver/; nothing below the SDK imports the game server.
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    if (statSync(join(root, p)).isDirectory()) out.push(...files(p));
    else if (/\.(ts|mts|js)$/.test(name)) out.push(p);
  }
  return out;
}

/** Every module specifier a file imports or re-exports, resolved to a repo path when relative. */
function imports(file: string): string[] {
  const src = readFileSync(join(root, file), 'utf8');
  const specs = [...src.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
  return specs.map((s) => (s.startsWith('.') ? relative(root, resolve(root, dirname(file), s)) : s));
}

describe('layout', () => {
  it('reads imports (checked on a file whose imports are known)', () => {
    const room = imports('gameserver/src/room.ts');
    expect(room).toContain('@colyseus/core');
    expect(room).toContain('world/src/physics.js');
    expect(room).toContain('sdk/src/index.js');
  });

  it('world/ imports neither Colyseus nor gameserver/ nor the wire protocol', () => {
    const ws = files('world/src');
    expect(ws.length).toBeGreaterThan(5);
    for (const f of ws)
      for (const i of imports(f)) {
        expect(i, `${f} imports ${i}`).not.toMatch(/^@colyseus\//);
        expect(i, `${f} imports ${i}`).not.toMatch(/^(gameserver|env|tools|examples)\//);
      }
  });

  it('env/ and tools/ take the simulation from world/, not gameserver/', () => {
    for (const f of [...files('env/src'), ...files('tools')])
      for (const i of imports(f)) expect(i, `${f} imports ${i}`).not.toMatch(/^gameserver\//);
  });

  it('the SDK imports nothing above it', () => {
    for (const f of files('sdk/src'))
      for (const i of imports(f)) expect(i, `${f} imports ${i}`).not.toMatch(/^(world|gameserver|env|tools|examples)\/|^@colyseus\//);
  });
});
