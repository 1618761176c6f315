/**
 * worldcast game server: Colyseus rooms that stream a world model's video of rapier
 * physics, with action conditioning from the motion physics allows. The simulation itself
 * is `worldcast/world` (re-exported here, so a room's users need one import).
 */
export * from '../../world/src/index.js';
export { WorldRoom } from './room.js';
export type { WorldMode, WorldRoomOptions } from './room.js';
export { WORLD_ERRORS } from './errors.js';
export { authorizeJoin } from './join.js';
export type { JoinAuth } from './join.js';
export { DEFAULT_IDENTITY_LIMITS, IdentityLimiter, LIMIT_ERRORS, identityLimiter, resolveLimits } from './limits.js';
export type { IdentityLimits, LimitRefusal } from './limits.js';
export { WorldEngine } from './engine.js';
export { WorldMetrics, log, worldMetrics } from './metrics.js';
export type { LogLevel, MetricsSource } from './metrics.js';
export type { EngineOptions, EngineStats } from './engine.js';
export { AutoCodec, JpegCodec, RawCodec, resolveCodec, latentPreview } from './codec.js';
export type { FrameCodec } from './codec.js';
export { HmacTokenVerifier, signToken } from './auth.js';
export type { AuthIdentity, TokenVerifier } from './auth.js';
export { HashPromptEncoder } from './prompts.js';
export {
  CLOSE,
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
export { startWorldServer, freePort, leastLoadedProcess, listRooms } from './server.js';
export type { RoomListing, SelectProcess, WorldServer, WorldServerOptions } from './server.js';
