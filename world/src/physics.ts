/**
 * Physics: a rapier3d world of static colliders from a level, and one kinematic character
 * per player (a capsule moved by a KinematicCharacterController with slide, autostep and
 * snap-to-ground). Each tick a character turns its held keys and mouse look into a desired
 * motion; what the controller actually allows after collisions is returned as a
 * {@link TickMotion}, which becomes the player's action conditioning.
 *
 * Conventions: y is up; yaw 0 faces -Z and grows to the left (counter-clockwise seen from
 * above); pitch > 0 looks up. Mouse dx > 0 turns right (yaw decreases), dy > 0 looks down.
 */
import RAPIER from '@dimforge/rapier3d-compat';

import { KEY_BITS } from './keys.js';
import type { Color, Level, LevelSpawn } from './levels/index.js';
import type { CharacterShape } from './render.js';
import type { Pose } from '../../sdk/src/actions.js';

let ready: Promise<void> | undefined;

/** Characters start this far above their spawn point and settle onto the ground (starting in contact can wedge the capsule). */
const SPAWN_LIFT = 0.05;

/** Load rapier's WebAssembly once per process. */
export function initPhysics(): Promise<void> {
  ready ??= RAPIER.init();
  return ready;
}

/** Character dimensions and movement limits. */
export interface CharacterParams {
  /** Capsule radius (m). */
  radius: number;
  /** Half the height of the capsule's cylinder part (m); total height = 2 (halfHeight + radius). */
  halfHeight: number;
  /** Walking speed (m/s). */
  walkSpeed: number;
  /** Initial upward speed of a jump (m/s). */
  jumpSpeed: number;
  /** Fastest turn, yaw or pitch (rad/s); mouse input beyond it is spread over later ticks. */
  maxTurnRate: number;
  /** Largest |pitch| (rad). */
  maxPitch: number;
  /** Autostep: highest step climbed (m) and the least free width on top of it (m). */
  stepHeight: number;
  /** Autostep: the least free width on top of a step (m). */
  stepMinWidth: number;
  /** Snap down to the ground when it is at most this far below (m). */
  snapDistance: number;
  /** Steepest slope climbed (rad). */
  maxSlope: number;
}

export const defaultCharacterParams: CharacterParams = {
  radius: 0.3,
  halfHeight: 0.6,
  walkSpeed: 4,
  jumpSpeed: 5,
  maxTurnRate: 2 * Math.PI,
  maxPitch: 1.4,
  stepHeight: 0.3,
  stepMinWidth: 0.2,
  snapDistance: 0.3,
  maxSlope: (45 * Math.PI) / 180,
};

/** What a character's input asks for this tick. */
export interface CharacterInput {
  /** Held keys ({@link KEY_BITS} mask). */
  keys: number;
  /** Look deltas not applied yet (rad; dx > 0 turns right, dy > 0 looks down). */
  lookX: number;
  lookY: number;
}

/** The motion physics allowed in one tick, in the character's frame at the start of the tick. */
export interface TickMotion {
  /** Seconds of the tick. */
  dt: number;
  /** Displacement along the facing direction (m). */
  forward: number;
  /** Displacement to the right (m). */
  right: number;
  /** Vertical displacement (m). */
  up: number;
  /** Yaw change (rad; > 0 turned left). */
  yaw: number;
  /** Pitch change (rad; > 0 looked up). */
  pitch: number;
  /** A jump started this tick. */
  jumped: boolean;
  /** The keys asked for motion that collisions took away (more than half of it). */
  blocked: boolean;
  /** The character's pose after the tick (models that take the pose get it as conditioning). */
  pose: Pose;
}

/** One player's capsule. */
export class Character {
  readonly params: CharacterParams;
  /** Index of its spawn point in the level's `spawns` (-1 for a spawn given by the caller that is not one of them). */
  readonly spawnIndex: number;
  /** Foot position (bottom of the capsule). */
  x: number;
  y: number;
  z: number;
  yaw: number;
  pitch = 0;
  grounded = false;
  #vy = 0;
  readonly #world: RAPIER.World;
  readonly #body: RAPIER.RigidBody;
  readonly #collider: RAPIER.Collider;
  readonly #controller: RAPIER.KinematicCharacterController;
  readonly #gravity: number;
  readonly #spawn: LevelSpawn;
  #removed = false;

  /** @internal use {@link PhysicsWorld.addCharacter} */
  constructor(world: RAPIER.World, spawn: LevelSpawn, gravity: number, params: CharacterParams, spawnIndex = -1) {
    this.params = params;
    this.spawnIndex = spawnIndex;
    this.#world = world;
    this.#gravity = gravity;
    this.#spawn = spawn;
    [this.x, this.y, this.z] = spawn.position;
    this.y += SPAWN_LIFT;
    this.yaw = spawn.yaw ?? 0;
    const centerY = this.y + params.halfHeight + params.radius;
    this.#body = world.createRigidBody(RAPIER.RigidBodyDesc.kinematicPositionBased().setTranslation(this.x, centerY, this.z));
    this.#collider = world.createCollider(RAPIER.ColliderDesc.capsule(params.halfHeight, params.radius), this.#body);
    const c = world.createCharacterController(0.02);
    c.setUp({ x: 0, y: 1, z: 0 });
    c.setSlideEnabled(true);
    c.enableAutostep(params.stepHeight, params.stepMinWidth, false);
    c.enableSnapToGround(params.snapDistance);
    c.setMaxSlopeClimbAngle(params.maxSlope);
    c.setMinSlopeSlideAngle(params.maxSlope);
    c.setApplyImpulsesToDynamicBodies(false);
    this.#controller = c;
    // Place the new collider now, so this tick's queries see it where the body is.
    world.propagateModifiedBodyPositionsToColliders();
  }

  /** Facing direction on the ground plane. */
  forwardVector(yaw = this.yaw): [number, number] {
    return [-Math.sin(yaw), -Math.cos(yaw)];
  }

  /** Right-hand direction on the ground plane. */
  rightVector(yaw = this.yaw): [number, number] {
    return [Math.cos(yaw), -Math.sin(yaw)];
  }

  /**
   * Advance one tick: turn (within the turn rate and pitch limits, consuming the applied
   * part of `input.lookX/lookY`), then move by the keys through the character controller.
   * Returns the motion actually made.
   */
  step(input: CharacterInput, dt: number): TickMotion {
    const p = this.params;
    const maxTurn = p.maxTurnRate * dt;
    // Look: mouse right (lookX > 0) turns right (yaw decreases); down (lookY > 0) pitches down.
    const turnX = clamp(input.lookX, -maxTurn, maxTurn);
    input.lookX -= turnX;
    const turnY = clamp(input.lookY, -maxTurn, maxTurn);
    input.lookY -= turnY;
    const yaw0 = this.yaw;
    const pitch0 = this.pitch;
    this.yaw = wrapAngle(this.yaw - turnX);
    this.pitch = clamp(this.pitch - turnY, -p.maxPitch, p.maxPitch);
    if (this.pitch !== pitch0 - turnY) input.lookY = 0; // pushing against the pitch limit: drop the rest
    // Keep at most a quarter second of pending look.
    const backlog = p.maxTurnRate * 0.25;
    input.lookX = clamp(input.lookX, -backlog, backlog);
    input.lookY = clamp(input.lookY, -backlog, backlog);

    // Desired motion in the (new) facing frame.
    const k = input.keys;
    let fw = (k & KEY_BITS.w ? 1 : 0) - (k & KEY_BITS.s ? 1 : 0);
    let st = (k & KEY_BITS.d ? 1 : 0) - (k & KEY_BITS.a ? 1 : 0);
    const len = Math.hypot(fw, st);
    if (len > 0) {
      fw /= len;
      st /= len;
    }
    const [fx, fz] = this.forwardVector();
    const [rx, rz] = this.rightVector();
    const vx = p.walkSpeed * (fw * fx + st * rx);
    const vz = p.walkSpeed * (fw * fz + st * rz);
    let jumped = false;
    if (this.grounded && k & KEY_BITS.space) {
      this.#vy = p.jumpSpeed;
      jumped = true;
    } else if (this.grounded) {
      // On the ground: no downward push (snap-to-ground follows slopes and steps down);
      // pushing into the floor every tick lets rapier's controller creep into it.
      this.#vy = 0;
    } else {
      this.#vy -= this.#gravity * dt;
    }
    const desired = { x: vx * dt, y: this.#vy * dt, z: vz * dt };

    this.#controller.computeColliderMovement(this.#collider, desired, RAPIER.QueryFilterFlags.EXCLUDE_SENSORS);
    const m = this.#controller.computedMovement();
    this.grounded = this.#controller.computedGrounded();
    if (this.grounded && this.#vy < 0) this.#vy = 0;
    if (this.#vy > 0 && m.y < desired.y * 0.5) this.#vy = 0; // hit a ceiling
    this.x += m.x;
    this.y += m.y;
    this.z += m.z;
    if (this.y < -50) {
      this.respawn();
      return { dt, forward: 0, right: 0, up: 0, yaw: 0, pitch: 0, jumped: false, blocked: false, pose: this.pose() };
    }
    this.#body.setNextKinematicTranslation({ x: this.x, y: this.y + p.halfHeight + p.radius, z: this.z });

    const wantH = Math.hypot(desired.x, desired.z);
    const gotH = Math.hypot(m.x, m.z);
    return {
      dt,
      forward: m.x * fx + m.z * fz,
      right: m.x * rx + m.z * rz,
      up: m.y,
      yaw: wrapAngle(this.yaw - yaw0),
      pitch: this.pitch - pitch0,
      jumped,
      blocked: wantH > 1e-9 && gotH < 0.5 * wantH,
      pose: this.pose(),
    };
  }

  /** Foot position, yaw and pitch now. */
  pose(): Pose {
    return { x: this.x, y: this.y, z: this.z, yaw: this.yaw, pitch: this.pitch };
  }

  /** What the renderer and the geometry map draw of it now: its capsule, facing, in `color`. */
  shape(color: Color): CharacterShape {
    const p = this.params;
    return { x: this.x, y: this.y, z: this.z, yaw: this.yaw, radius: p.radius, height: 2 * (p.halfHeight + p.radius), color };
  }

  /** Back to the spawn point, at rest. */
  respawn(): void {
    [this.x, this.y, this.z] = this.#spawn.position;
    this.y += SPAWN_LIFT;
    this.yaw = this.#spawn.yaw ?? 0;
    this.pitch = 0;
    this.#vy = 0;
    if (!this.#removed) {
      this.#body.setTranslation({ x: this.x, y: this.y + this.params.halfHeight + this.params.radius, z: this.z }, true);
      this.#world.propagateModifiedBodyPositionsToColliders();
    }
  }

  /** @internal */
  remove(): void {
    if (this.#removed) return;
    this.#removed = true;
    this.#world.removeCharacterController(this.#controller);
    this.#world.removeRigidBody(this.#body);
  }
}

/** A room's physics: the level's static colliders and the players' characters. */
export class PhysicsWorld {
  readonly level: Level;
  readonly params: CharacterParams;
  readonly #world: RAPIER.World;
  readonly #characters = new Set<Character>();
  #nextSpawn = 0;
  #freed = false;

  private constructor(level: Level, params: CharacterParams) {
    this.level = level;
    this.params = params;
    const g = level.gravity ?? 9.81;
    this.#world = new RAPIER.World({ x: 0, y: -g, z: 0 });
    if (level.floor) {
      const [hx, hz] = level.floor.halfExtents;
      const top = level.floor.y ?? 0;
      this.#world.createCollider(RAPIER.ColliderDesc.cuboid(hx, 0.5, hz).setTranslation(0, top - 0.5, 0));
    }
    for (const b of level.boxes) {
      const d = RAPIER.ColliderDesc.cuboid(...b.halfExtents).setTranslation(...b.center);
      if (b.yaw) d.setRotation({ x: 0, y: Math.sin(b.yaw / 2), z: 0, w: Math.cos(b.yaw / 2) });
      this.#world.createCollider(d);
    }
    const base = level.floor?.y ?? 0;
    for (const c of level.pillars ?? []) {
      this.#world.createCollider(RAPIER.ColliderDesc.cylinder(c.height / 2, c.radius).setTranslation(c.center[0], base + c.height / 2, c.center[1]));
    }
    // Build the query structures once so the first tick's character queries see the level.
    this.#world.step();
  }

  /** A world for `level` (loads rapier on first use). */
  static async create(level: Level, params: Partial<CharacterParams> = {}): Promise<PhysicsWorld> {
    await initPhysics();
    return new PhysicsWorld(level, { ...defaultCharacterParams, ...params });
  }

  /** A new character at the next spawn point (round robin), or at `spawn`. */
  addCharacter(spawn?: LevelSpawn): Character {
    const index = spawn ? this.level.spawns.indexOf(spawn) : this.#nextSpawn++ % this.level.spawns.length;
    const s = spawn ?? this.level.spawns[index]!;
    const c = new Character(this.#world, s, this.level.gravity ?? 9.81, this.params, index);
    this.#characters.add(c);
    return c;
  }

  removeCharacter(c: Character): void {
    if (!this.#characters.delete(c) || this.#freed) return;
    c.remove();
  }

  /** Move the kinematic bodies to where their characters went and update the query structures. */
  step(dt: number): void {
    this.#world.timestep = dt;
    this.#world.step();
  }

  get characters(): number {
    return this.#characters.size;
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#characters.clear();
    this.#world.free();
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function wrapAngle(a: number): number {
  let r = a % (2 * Math.PI);
  if (r > Math.PI) r -= 2 * Math.PI;
  if (r < -Math.PI) r += 2 * Math.PI;
  return r;
}
