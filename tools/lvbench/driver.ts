/**
 * Drives one long generation of a manifest video through the SDK.
 *
 * Frame k of the video is at k / fps seconds (fps = the model's latent_fps × its decoder's
 * frames per latent frame). Before each block the driver looks at the time of the block's first
 * frame: when the caption in force there (manifest.ts `captionAt`) differs from the session's
 * prompt it calls `setPrompt` (continuous prompts: the prompt changes at the first block
 * boundary at or after the caption's start), and the block's actions are the action segment in
 * force there (the manifest's, else the scripted walk of actions.ts). Generation stops once
 * `seconds × fps` frames (rounded) are in; extra frames of the last block are dropped.
 *
 * A model that takes the character's pose or the level's geometry map (config.json
 * `action.pose` / `.geometry`, as the default world does) is driven as the game server drives
 * a player (world/src/driver.ts, the render CLI's path): a character at the spawn point the
 * video's opening names (`'<prompt>/<spawn>'`, else spawn 0) holds each block's keys and turns
 * at its mouse values through rapier, and each latent frame is conditioned on the motion
 * physics allowed, the pose and the map seen from it; the opening's frames get the spawn pose.
 */
import type { ActionInput, Model } from '../../sdk/src/index.js';
import { checkHeldInput, WorldDriver } from '../../world/src/driver.js';
import { defaultLevel, type Level } from '../../world/src/levels/index.js';
import { scriptedActions } from './actions.js';
import { actionAt, captionAt, type ActionSegment, type VideoSpec } from './manifest.js';
import type { RunConfig } from './runs.js';

/** Frames per second of a model's decoded video, or null when config.json has no latent_fps. */
export function videoFps(model: Model): number | null {
  const lf = model.config.latent_fps;
  if (!lf) return null;
  return lf * (model.decoder?.config.t_upscale ?? 1);
}

/** The action segments a video is generated with. */
export function videoActions(video: VideoSpec, seconds: number): ActionSegment[] {
  return video.actions ?? scriptedActions(video.seed, seconds);
}

/** Checks before any generation that the model can run the video (prompts, opening, decoder; for world models the spawn and the actions). */
export function checkVideo(model: Model, video: VideoSpec, level: Level = defaultLevel): void {
  if (!model.decoder) throw new Error('the model has no video decoder: LV-Bench scores decoded frames');
  if (drivesWorld(model)) {
    const sp = videoSpawn(video);
    if (sp >= level.spawns.length) throw new Error(`video "${video.id}": opening "${video.opening}" names spawn ${sp}; level "${level.name}" has ${level.spawns.length} spawn points`);
    for (const a of video.actions ?? []) checkHeldInput({ keys: a.keys, mouse: a.mouse }, model.config.action!, `video "${video.id}": the action at ${a.start} s`);
  }
  const enc = model.promptEncoder;
  if (!enc) throw new Error(`video "${video.id}": the model has no prompt encoder, so the manifest's captions cannot become prompts`);
  for (const c of video.captions) {
    try {
      void enc.encode(c.text);
    } catch (e) {
      throw new Error(`video "${video.id}": caption "${c.text}" (at ${c.start} s): ${(e as Error).message}`);
    }
  }
  if (video.opening !== null && !model.openings.has(video.opening))
    throw new Error(`video "${video.id}": unknown opening "${video.opening}"; the model has ${model.openings.size ? [...model.openings.keys()].join(', ') : 'none'}`);
}

/** What one generation produced besides its frames. */
export interface GenerationStats {
  frames: number;
  width: number;
  height: number;
  blocks: number;
  wallSeconds: number;
  stepSeconds: number;
  prompts: { t: number; text: string }[];
}

export interface GenerateOptions {
  /** Length of the video in seconds. */
  seconds: number;
  /** Frames per second of the decoded video. */
  fps: number;
  /** Each frame as it arrives (in order, only the first round(seconds × fps)). */
  onFrame: (rgb: Uint8Array, index: number) => void;
  /** After each block: frames so far and the target. */
  onBlock?: (frames: number, target: number) => void;
  /** World models (pose / geometry inputs): the level the character walks (default: the default world's yard). */
  level?: Level;
}

/** Whether a model takes the character's pose or the level's geometry map, so its videos drive a character through a level. */
export function drivesWorld(model: Model): boolean {
  const a = model.actionSpace;
  return !!a && !!(a.pose || a.geometry || a.frameGeometry);
}

/** The spawn point a video's character starts at: the one its opening names (`'<prompt>/<spawn>'`), else 0. */
export function videoSpawn(video: VideoSpec): number {
  const m = video.opening === null ? null : /\/(\d+)$/.exec(video.opening);
  return m ? Number(m[1]) : 0;
}

/** The session options of a run for a video. */
function sessionOptions(video: VideoSpec, run: RunConfig, prompt: string, openingActions?: ActionInput) {
  return {
    seed: video.seed,
    prompt,
    ...(video.opening !== null ? { opening: video.opening, ...(openingActions ? { openingActions } : {}) } : {}),
    kvDtype: run.kvDtype,
    foldCommit: run.foldCommit,
    ...(run.localAttnSize !== null ? { localAttnSize: run.localAttnSize } : {}),
    ...(run.sinkSize !== null ? { sinkSize: run.sinkSize } : {}),
  };
}

/** Checks before any generation that the model takes a run's session settings (window, sink, …). */
export async function checkRun(model: Model, run: RunConfig, video: VideoSpec): Promise<void> {
  try {
    await model.createSession(sessionOptions(video, run, captionAt(video.captions, 0).text)).close();
  } catch (e) {
    throw new Error(`run "${run.name}": ${(e as Error).message}`);
  }
}

/** Generates one video with one run's session settings; the frames go to `onFrame`. */
export async function generateVideo(model: Model, video: VideoSpec, run: RunConfig, opts: GenerateOptions): Promise<GenerationStats> {
  const { seconds, fps } = opts;
  const target = Math.round(seconds * fps);
  if (target < 1) throw new Error(`video "${video.id}": ${seconds} s at ${fps} frames/s is no frames`);
  checkVideo(model, video, opts.level);
  const actions = videoActions(video, seconds);
  const t0 = performance.now();
  let prompt = captionAt(video.captions, 0).text;
  const c = model.config;
  const space = model.actionSpace; // with the map its decoder takes per frame, when it takes one
  const driver = drivesWorld(model)
    ? await WorldDriver.create(space!, c.latent_fps > 0 ? c.latent_fps : 15, c.num_frame_per_block, {
        level: opts.level ?? defaultLevel,
        spawn: videoSpawn(video),
        latent: { height: c.latent_height, width: c.latent_width },
      })
    : null;
  let session;
  try {
    session = model.createSession(sessionOptions(video, run, prompt, driver?.openingActions()));
  } catch (e) {
    driver?.free();
    throw e;
  }
  const stats: GenerationStats = { frames: 0, width: 0, height: 0, blocks: 0, wallSeconds: 0, stepSeconds: 0, prompts: [{ t: 0, text: prompt }] };
  try {
    while (stats.frames < target) {
      const t = stats.frames / fps;
      const cap = captionAt(video.captions, t).text;
      if (cap !== prompt) {
        await session.setPrompt(cap);
        prompt = cap;
        stats.prompts.push({ t, text: cap });
      }
      const seg = actionAt(actions, t);
      let input: ActionInput | ActionInput[] = seg ? { keys: seg.keys, mouse: seg.mouse } : {};
      if (driver) input = driver.block(checkHeldInput(input, space!, `video "${video.id}": the action at ${t.toFixed(2)} s`)).inputs;
      const s0 = performance.now();
      const block = await session.step({ actions: input });
      stats.stepSeconds += (performance.now() - s0) / 1e3;
      stats.blocks++;
      if (block.images.length === 0 && stats.blocks > 4) throw new Error(`video "${video.id}": the decoder gave no frames in ${stats.blocks} blocks`);
      for (const img of block.images) {
        if (stats.frames >= target) break;
        if (stats.frames === 0) {
          stats.width = img.width;
          stats.height = img.height;
        } else if (img.width !== stats.width || img.height !== stats.height) throw new Error(`video "${video.id}": frame ${stats.frames} is ${img.width}×${img.height}, earlier ones ${stats.width}×${stats.height}`);
        opts.onFrame(img.rgb, stats.frames);
        stats.frames++;
      }
      opts.onBlock?.(stats.frames, target);
    }
  } finally {
    driver?.free();
    await session.close();
  }
  stats.wallSeconds = (performance.now() - t0) / 1e3;
  return stats;
}
