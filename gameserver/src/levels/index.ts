/**
 * Level descriptions: static colliders (a floor and boxes: walls, crates, steps) and
 * spawn points, loaded into the rapier world of a room.
 */
import { readFileSync } from 'node:fs';

import { defaultLevel } from './default.js';

export type Vec3 = [number, number, number];

/** A static box. `yaw` rotates it about the vertical axis (radians). */
export interface LevelBox {
  name?: string;
  center: Vec3;
  halfExtents: Vec3;
  yaw?: number;
}

/** Where a character starts: the capsule's foot position and facing (radians; 0 faces -Z). */
export interface LevelSpawn {
  position: Vec3;
  yaw?: number;
}

export interface Level {
  name: string;
  /** m/s² downwards (default 9.81). */
  gravity?: number;
  /** A floor slab whose top is at y = `y` (default 0), `halfExtents` [x, z] in metres. */
  floor?: { halfExtents: [number, number]; y?: number };
  boxes: LevelBox[];
  spawns: LevelSpawn[];
}

function isVec(v: unknown, n: number): boolean {
  return Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

/** Check a level's shape; throws an Error naming the first bad field. */
export function validateLevel(level: unknown, where = 'level'): Level {
  const l = level as Level;
  if (typeof l !== 'object' || l === null) throw new Error(`${where}: not an object`);
  if (typeof l.name !== 'string') throw new Error(`${where}: name must be a string`);
  if (l.gravity !== undefined && (typeof l.gravity !== 'number' || !Number.isFinite(l.gravity))) throw new Error(`${where}: gravity must be a number`);
  if (l.floor !== undefined && !isVec(l.floor.halfExtents, 2)) throw new Error(`${where}: floor.halfExtents must be [x, z]`);
  if (!Array.isArray(l.boxes)) throw new Error(`${where}: boxes must be an array`);
  l.boxes.forEach((b, i) => {
    if (!isVec(b.center, 3) || !isVec(b.halfExtents, 3) || b.halfExtents.some((h) => h <= 0))
      throw new Error(`${where}: boxes[${i}] needs center [x,y,z] and positive halfExtents [x,y,z]`);
  });
  if (!Array.isArray(l.spawns) || l.spawns.length === 0) throw new Error(`${where}: spawns must be a non-empty array`);
  l.spawns.forEach((s, i) => {
    if (!isVec(s.position, 3)) throw new Error(`${where}: spawns[${i}].position must be [x,y,z]`);
  });
  return l;
}

/** Read a level from a JSON file. */
export function loadLevelFile(path: string): Level {
  return validateLevel(JSON.parse(readFileSync(path, 'utf8')), path);
}

export { defaultLevel };
