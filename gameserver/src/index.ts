/**
 * worldcast game server: Colyseus rooms that stream a world model's video of rapier
 * physics, with action conditioning from the motion physics allows.
 */
export { WorldRoom, WORLD_ERRORS } from './room.js';
export type { JoinAuth, WorldMode, WorldRoomOptions } from './room.js';
export { DEFAULT_IDENTITY_LIMITS, IdentityLimiter, LIMIT_ERRORS, identityLimiter, resolveLimits } from './limits.js';
export type { IdentityLimits, LimitRefusal } from './limits.js';
export { WorldEngine, resolveDecoderDir } from './engine.js';
export type { EngineOptions, EngineStats } from './engine.js';
export { PhysicsWorld, Character, initPhysics, defaultCharacterParams } from './physics.js';
export type { CharacterInput, CharacterParams, TickMotion } from './physics.js';
export { motionToConditioning, groupMotion, frameAction, poseInputs, checkGeometrySpace, defaultActionMap } from './conditioning.js';
export type { ActionMap, Conditioning, ConditioningParams, FrameMotion, GeometryView } from './conditioning.js';
export { AutoCodec, JpegCodec, RawCodec, resolveCodec, latentPreview } from './codec.js';
export type { FrameCodec } from './codec.js';
export { HmacTokenVerifier, signToken } from './auth.js';
export type { AuthIdentity, TokenVerifier } from './auth.js';
export { HashPromptEncoder } from './prompts.js';
export {
  ALL_KEYS_MASK,
  CLOSE,
  KEY_BITS,
  MAX_LOOK_PER_INPUT,
  decodeEnvelope,
  describeValue,
  encodeEnvelope,
  validateInput,
  validateJoinOptions,
  validatePrompt,
  validateText,
} from './protocol.js';
export type { FrameHeader, FrameTimes, InputMessage, JoinOptions } from './protocol.js';
export { PlayerState, ViewState, WorldState } from './schema.js';
export { PlayerRecord, WorldView } from './view.js';
export type { BlockMeta, ViewKind } from './view.js';
export { defaultLevel, defaultWorldActionSpace, loadLevelFile, spawnPose, validateLevel } from './levels/index.js';
export type { Color, Level, LevelBox, LevelPillar, LevelSpawn } from './levels/index.js';
export { renderView, renderGeometry, eyeFromCharacter, castRay, resolveLighting, LIGHTING, PROMPTS, EYE_HEIGHT, FOV_Y, GEOMETRY_CHANNELS } from './render.js';
export type { Camera, GeometryOptions, Lighting, PromptName } from './render.js';
export { startWorldServer, freePort, leastLoadedProcess, listRooms } from './server.js';
export type { RoomListing, SelectProcess, WorldServer, WorldServerOptions } from './server.js';
