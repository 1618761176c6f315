import type { Level } from './index.js';

/**
 * The default level: a 24 m × 24 m yard with 3 m walls, a few crates, a 0.25 m step
 * (climbed by autostep), a low wall and four pillars. Spawns face -Z.
 *
 * Each wall has its own colour so a viewer can tell which way it faces: north (-Z) brick
 * red, south (+Z) blue-grey, west (-X) green, east (+X) sand yellow. The floor is a 2 m
 * checker of two greys.
 */
export const defaultLevel: Level = {
  name: 'yard',
  gravity: 9.81,
  floor: {
    halfExtents: [12, 12],
    y: 0,
    colors: [
      [0.5, 0.5, 0.5],
      [0.33, 0.33, 0.33],
    ],
    tile: 2,
  },
  boxes: [
    { name: 'wall-north', center: [0, 1.5, -12.25], halfExtents: [12.5, 1.5, 0.25], color: [0.62, 0.2, 0.14] },
    { name: 'wall-south', center: [0, 1.5, 12.25], halfExtents: [12.5, 1.5, 0.25], color: [0.36, 0.44, 0.58] },
    { name: 'wall-west', center: [-12.25, 1.5, 0], halfExtents: [0.25, 1.5, 12.5], color: [0.2, 0.5, 0.22] },
    { name: 'wall-east', center: [12.25, 1.5, 0], halfExtents: [0.25, 1.5, 12.5], color: [0.86, 0.74, 0.44] },
    { name: 'crate-1', center: [4, 0.5, -4], halfExtents: [0.5, 0.5, 0.5], color: [0.85, 0.5, 0.1] },
    { name: 'crate-2', center: [-5, 0.75, 3], halfExtents: [0.75, 0.75, 0.75], yaw: 0.4, color: [0.55, 0.25, 0.65] },
    { name: 'step', center: [0, 0.125, 6], halfExtents: [2, 0.125, 1], color: [0.75, 0.75, 0.72] },
    { name: 'low-wall', center: [-6, 0.6, -6], halfExtents: [3, 0.6, 0.2], color: [0.1, 0.55, 0.6] },
  ],
  pillars: [
    { name: 'pillar-white', center: [6, 6], radius: 0.4, height: 4, color: [0.92, 0.92, 0.9] },
    { name: 'pillar-black', center: [-8, -2], radius: 0.5, height: 2.5, color: [0.12, 0.12, 0.14] },
    { name: 'pillar-cyan', center: [7, -8], radius: 0.35, height: 3.5, color: [0.2, 0.8, 0.85] },
    { name: 'pillar-magenta', center: [-4, 8], radius: 0.45, height: 3, color: [0.85, 0.2, 0.55] },
  ],
  spawns: [
    { position: [0, 0, 0], yaw: 0 },
    { position: [2, 0, 0], yaw: 0 },
    { position: [-2, 0, 0], yaw: 0 },
    { position: [0, 0, 2], yaw: 0 },
    { position: [2, 0, 2], yaw: 0 },
    { position: [-2, 0, 2], yaw: 0 },
    { position: [0, 0, -2], yaw: 0 },
    { position: [2, 0, -2], yaw: 0 },
  ],
};
