/**
 * worldcast: block-diffusion video world models inside game servers.
 * @packageDocumentation
 */
export { gemmPaths, loadModel, modelDecoderDir, Model, Session } from './model.js';
export { defaultModelDir } from './package_root.js';
export { loadDecoder, Decoder, DecoderStream } from './decoder.js';
export type { DecodedFrames, DecodeOptions, DecoderInfo, DecoderOptions, DecoderPrecision, DecoderTotals, LatentBlockLike } from './decoder.js';
export { TablePromptEncoder } from './prompts.js';
export { profiler, Profile } from './profiler.js';
export type { ProfileEvent, ProfileRow } from './profiler.js';
export type { Prompt, PromptEncoder } from './prompts.js';
export { encodeActions, encodeGeometry, encodeFrameGeometry, checkFrameGeometry, actionSize, geometrySize, frameGeometrySize, poseFeatures, poseWidth } from './actions.js';
export type { ActionAxis, ActionInput, ActionSpace, FrameGeometrySpec, GeometrySpec, LatentSize, Pose, PoseSpec } from './actions.js';
export type { KvDType, KvSelection } from './kvtypes.js';
export type {
  DecoderConfig,
  DecoderGeometry,
  DecoderStreamStats,
  KvPage,
  KvStats,
  ModelInfo,
  SessionLayout,
  SessionStats,
  StageTimes,
  WeightType,
} from './types.js';
export type {
  ActionSource,
  BatchItem,
  Frame,
  StreamOptions,
  LatentBlock,
  LoadOptions,
  ModelConfig,
  ImageLatentConfig,
  BlockSchedule,
  StaggeredSchedule,
  ScheduleConfig,
  ContextInput,
  ImageLatentInput,
  ActionsInput,
  ModelInputs,
  SessionOptions,
  StepOptions,
} from './model.js';
export {
  WorldcastError,
  WeightsError,
  ConfigError,
  ShapeError,
  ArgumentError,
  KvBudgetError,
  ClosedError,
} from './errors.js';
export { encodeSafetensors, decodeSafetensors, readSafetensors, writeSafetensors } from './safetensors.js';
export type { FloatDType, Tensor } from './safetensors.js';
