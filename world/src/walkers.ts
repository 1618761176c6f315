/**
 * Scripted walkers (NPCs): characters a level declares that walk a loop of waypoints
 * through the same character controller as the players (they collide, climb steps and are
 * blocked by walls and by other characters), so every player's view can show them where
 * physics has them.
 */
import { KEY_BITS } from './keys.js';
import type { Color, LevelWalker } from './levels/index.js';
import type { Character, CharacterInput, PhysicsWorld, TickMotion } from './physics.js';

/** Within this distance (m) of its waypoint a walker heads for the next one. */
const ARRIVE = 0.35;

function wrap(a: number): number {
  return Math.atan2(Math.sin(a), Math.cos(a));
}

/** One walker: its character and where it is on its loop. */
export class Walker {
  readonly character: Character;
  readonly color: Color;
  readonly #path: readonly (readonly [number, number])[];
  readonly #pause: number;
  #next = 0;
  #waited = 0;
  readonly #input: CharacterInput = { keys: 0, lookX: 0, lookY: 0 };

  constructor(world: PhysicsWorld, spec: LevelWalker, color: Color) {
    this.#path = spec.path;
    this.#pause = spec.pause ?? 0;
    this.color = spec.color ?? color;
    const [x0, z0] = spec.path[0]!;
    const [x1, z1] = spec.path[1 % spec.path.length]!;
    const y = world.level.floor?.y ?? 0;
    this.character = world.addCharacter({ position: [x0, y, z0], yaw: Math.atan2(-(x1 - x0), -(z1 - z0)) });
    this.#next = spec.path.length > 1 ? 1 : 0;
  }

  /** One tick: turn toward the current waypoint, walk when facing it, pause at waypoints. */
  step(dt: number): TickMotion {
    const c = this.character;
    const [tx, tz] = this.#path[this.#next]!;
    const dx = tx - c.x;
    const dz = tz - c.z;
    const dist = Math.hypot(dx, dz);
    if (dist < ARRIVE && this.#path.length > 1) {
      if (this.#waited < this.#pause) this.#waited += dt;
      else {
        this.#waited = 0;
        this.#next = (this.#next + 1) % this.#path.length;
      }
      this.#input.keys = 0;
      this.#input.lookX = 0;
    } else {
      // yaw 0 faces −Z and grows to the left; look x > 0 turns right (yaw decreases)
      const turn = dist < 1e-6 ? 0 : wrap(Math.atan2(-dx, -dz) - c.yaw);
      this.#input.lookX = -turn;
      this.#input.keys = dist >= ARRIVE && Math.abs(turn) < 0.6 ? KEY_BITS.w : 0;
    }
    this.#input.lookY = 0;
    return c.step(this.#input, dt);
  }
}
