import type { Level } from './index.js';

/**
 * The default level: a 24 m × 24 m yard with 3 m walls, a few crates, a 0.25 m step
 * (climbed by autostep) and a low wall. Spawns face -Z.
 */
export const defaultLevel: Level = {
  name: 'yard',
  gravity: 9.81,
  floor: { halfExtents: [12, 12], y: 0 },
  boxes: [
    { name: 'wall-north', center: [0, 1.5, -12.25], halfExtents: [12.5, 1.5, 0.25] },
    { name: 'wall-south', center: [0, 1.5, 12.25], halfExtents: [12.5, 1.5, 0.25] },
    { name: 'wall-west', center: [-12.25, 1.5, 0], halfExtents: [0.25, 1.5, 12.5] },
    { name: 'wall-east', center: [12.25, 1.5, 0], halfExtents: [0.25, 1.5, 12.5] },
    { name: 'crate-1', center: [4, 0.5, -4], halfExtents: [0.5, 0.5, 0.5] },
    { name: 'crate-2', center: [-5, 0.75, 3], halfExtents: [0.75, 0.75, 0.75], yaw: 0.4 },
    { name: 'step', center: [0, 0.125, 6], halfExtents: [2, 0.125, 1] },
    { name: 'low-wall', center: [-6, 0.6, -6], halfExtents: [3, 0.6, 0.2] },
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
