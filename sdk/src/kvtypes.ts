/** KV memory option types. */
/** Storage type of KV pages. */
export type KvDType = 'f32' | 'bf16' | 'int8';

/** Which committed frames a block attends to (see native/kv/selection.h). */
export interface KvSelection {
  /** Every committed frame (global attention). */
  all?: boolean;
  /** Frames [0, sink) stay selected. */
  sink?: number;
  /** The `recent` frames just before each block. */
  recent?: number;
  /** Explicit absolute frame indices (keyframe memory). */
  frames?: number[];
  /** Ranges [start, end) of absolute frame indices. */
  ranges?: [number, number][];
}
