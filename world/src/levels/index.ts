/**
 * Level descriptions: static colliders (a floor, boxes: walls, crates, steps, and
 * pillars: vertical cylinders) and spawn points, loaded into the rapier world of a room.
 * The optional visual fields (colours, the floor's checker) are what the software
 * renderer ({@link ../render.ts}) draws; physics ignores them.
 */
import { readFileSync } from 'node:fs';

import type { ActionSpace, Pose } from '../../../sdk/src/actions.js';
import { defaultLevel } from './default.js';

/** A point or extent [x, y, z] (m; y is up). */
export type Vec3 = [number, number, number];
/** Linear RGB, each channel in 0..1. */
export type Color = [number, number, number];

/** A static box. `yaw` rotates it about the vertical axis (radians). */
export interface LevelBox {
  /** A name for people (e.g. "wall-north"). */
  name?: string;
  /** Centre (m). */
  center: Vec3;
  /** Half the size along each axis (m). */
  halfExtents: Vec3;
  /** Rotation about the vertical axis (rad). */
  yaw?: number;
  /** Surface colour (default `DEFAULT_BOX_COLOR`). */
  color?: Color;
}

/** A vertical cylinder standing on the floor (its base at the floor's top). */
export interface LevelPillar {
  /** A name for people. */
  name?: string;
  /** [x, z] of the axis. */
  center: [number, number];
  /** Radius (m). */
  radius: number;
  /** Height above the floor (m). */
  height: number;
  /** Surface colour (default `DEFAULT_BOX_COLOR`). */
  color?: Color;
}

export const DEFAULT_BOX_COLOR: Color = [0.6, 0.6, 0.6];
export const DEFAULT_FLOOR_COLORS: [Color, Color] = [
  [0.42, 0.42, 0.42],
  [0.3, 0.3, 0.3],
];
export const DEFAULT_FLOOR_TILE = 2;

/** Where a character starts: the capsule's foot position and facing (radians; 0 faces -Z). */
export interface LevelSpawn {
  /** Foot position (m). */
  position: Vec3;
  /** Facing (rad; 0 faces −Z). */
  yaw?: number;
}

/** The pose of a character standing at a spawn point (looking level). */
export function spawnPose(sp: LevelSpawn): Pose {
  return { x: sp.position[0], y: sp.position[1], z: sp.position[2], yaw: sp.yaw ?? 0, pitch: 0 };
}

/** A scripted walker (NPC): a character that walks a loop of waypoints through the character controller. */
export interface LevelWalker {
  /** Waypoints [x, z] on the floor, walked in order and round again; the walker starts at the first. */
  path: [number, number][];
  /** Seconds it stands at each waypoint (default 0). */
  pause?: number;
  /** Its colour (default: the next of the characters' palette). */
  color?: Color;
}

/** A level: static colliders (a floor, boxes, pillars) and spawn points, plus what the renderer draws. */
export interface Level {
  /** The level's name. */
  name: string;
  /** m/s² downwards (default 9.81). */
  gravity?: number;
  /** A floor slab whose top is at y = `y` (default 0), `halfExtents` [x, z] in metres. */
  floor?: {
    /** Half the size along x and z (m). */
    halfExtents: [number, number];
    /** Height of the floor's top (m, default 0). */
    y?: number;
    /** Checker colours (default `DEFAULT_FLOOR_COLORS`). */
    colors?: [Color, Color];
    /** Checker tile size (m, default `DEFAULT_FLOOR_TILE`). */
    tile?: number;
  };
  /** Static boxes: walls, crates, steps. */
  boxes: LevelBox[];
  /** Vertical cylinders on the floor (default none). */
  pillars?: LevelPillar[];
  /** Where characters start. */
  spawns: LevelSpawn[];
  /** Scripted walkers (default none). */
  walkers?: LevelWalker[];
}

/** The action space of the default world model: WASD + space and two look axes. */
export const defaultWorldActionSpace: ActionSpace = {
  mode: 'additive',
  keys: ['w', 'a', 's', 'd', 'space'],
  mouse: [
    { name: 'dx', min: -1, max: 1 },
    { name: 'dy', min: -1, max: 1 },
  ],
};

function isVec(v: unknown, n: number): boolean {
  return Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

function isColor(v: unknown): boolean {
  return isVec(v, 3) && (v as number[]).every((x) => x >= 0 && x <= 1);
}

/** Check a level's shape; throws an Error naming the first bad field. */
export function validateLevel(level: unknown, where = 'level'): Level {
  const l = level as Level;
  if (typeof l !== 'object' || l === null) throw new Error(`${where}: not an object`);
  if (typeof l.name !== 'string') throw new Error(`${where}: name must be a string`);
  if (l.gravity !== undefined && (typeof l.gravity !== 'number' || !Number.isFinite(l.gravity))) throw new Error(`${where}: gravity must be a number`);
  if (l.floor !== undefined) {
    if (typeof l.floor !== 'object' || l.floor === null || !isVec(l.floor.halfExtents, 2)) throw new Error(`${where}: floor.halfExtents must be [x, z]`);
    if (l.floor.y !== undefined && (typeof l.floor.y !== 'number' || !Number.isFinite(l.floor.y))) throw new Error(`${where}: floor.y must be a number`);
    if (l.floor.colors !== undefined && (!Array.isArray(l.floor.colors) || l.floor.colors.length !== 2 || !l.floor.colors.every(isColor)))
      throw new Error(`${where}: floor.colors must be two [r,g,b] colours in 0..1`);
    if (l.floor.tile !== undefined && (typeof l.floor.tile !== 'number' || !Number.isFinite(l.floor.tile) || l.floor.tile <= 0))
      throw new Error(`${where}: floor.tile must be a positive number`);
  }
  if (!Array.isArray(l.boxes)) throw new Error(`${where}: boxes must be an array`);
  l.boxes.forEach((b, i) => {
    if (!isVec(b.center, 3) || !isVec(b.halfExtents, 3) || b.halfExtents.some((h) => h <= 0))
      throw new Error(`${where}: boxes[${i}] needs center [x,y,z] and positive halfExtents [x,y,z]`);
    if (b.yaw !== undefined && (typeof b.yaw !== 'number' || !Number.isFinite(b.yaw))) throw new Error(`${where}: boxes[${i}].yaw must be a number`);
    if (b.color !== undefined && !isColor(b.color)) throw new Error(`${where}: boxes[${i}].color must be [r,g,b] in 0..1`);
  });
  if (l.pillars !== undefined) {
    if (!Array.isArray(l.pillars)) throw new Error(`${where}: pillars must be an array`);
    l.pillars.forEach((p, i) => {
      if (typeof p !== 'object' || p === null || !isVec(p.center, 2)) throw new Error(`${where}: pillars[${i}].center must be [x, z]`);
      if (typeof p.radius !== 'number' || !Number.isFinite(p.radius) || p.radius <= 0) throw new Error(`${where}: pillars[${i}].radius must be a positive number`);
      if (typeof p.height !== 'number' || !Number.isFinite(p.height) || p.height <= 0) throw new Error(`${where}: pillars[${i}].height must be a positive number`);
      if (p.color !== undefined && !isColor(p.color)) throw new Error(`${where}: pillars[${i}].color must be [r,g,b] in 0..1`);
    });
  }
  if (!Array.isArray(l.spawns) || l.spawns.length === 0) throw new Error(`${where}: spawns must be a non-empty array`);
  l.spawns.forEach((s, i) => {
    if (!isVec(s.position, 3)) throw new Error(`${where}: spawns[${i}].position must be [x,y,z]`);
  });
  if (l.walkers !== undefined) {
    if (!Array.isArray(l.walkers)) throw new Error(`${where}: walkers must be an array`);
    l.walkers.forEach((w, i) => {
      if (typeof w !== 'object' || w === null || !Array.isArray(w.path) || w.path.length === 0 || !w.path.every((p) => isVec(p, 2)))
        throw new Error(`${where}: walkers[${i}].path must be a non-empty array of [x, z]`);
      if (w.pause !== undefined && (typeof w.pause !== 'number' || !Number.isFinite(w.pause) || w.pause < 0)) throw new Error(`${where}: walkers[${i}].pause must be a number >= 0`);
      if (w.color !== undefined && !isColor(w.color)) throw new Error(`${where}: walkers[${i}].color must be [r,g,b] in 0..1`);
    });
  }
  return l;
}

/** Read a level from a JSON file. */
export function loadLevelFile(path: string): Level {
  return validateLevel(JSON.parse(readFileSync(path, 'utf8')), path);
}

export { defaultLevel };
