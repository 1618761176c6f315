/**
 * Frame delivery of a WorldRoom: a stepped block's latents are decoded (on the view's own
 * decoder stream, or as a latent preview without a decoder), encoded per frame by the
 * room's codec, and sent to the view's connected subscribers in frame envelopes — paced
 * at the world clock (one frame every block-duration / frames, not in a burst), in block
 * order, newest-only to a client whose socket is behind (backpressure), counted.
 */
import type { Client } from '@colyseus/core';

import type { LatentBlock } from '../../sdk/src/index.js';
import { codecName, latentPreview, type FrameCodec } from './codec.js';
import { encodeEnvelope, nowMs, type FrameHeader } from './protocol.js';
import { worldMetrics } from './metrics.js';
import { WorldView, type BlockMeta } from './view.js';

/** Most numbers the optional `actions` debug field of a frame header carries. */
export const MAX_HEADER_ACTIONS = 256;

export interface DeliveryOptions {
  codec: FrameCodec;
  /** A client with more than this many bytes queued gets only the newest frame of a block. */
  backpressureBytes: number;
  /** ... and none above this. */
  maxBufferedBytes: number;
  /** World time one latent frame stands for (s): a block's frames leave spaced over its frames' time. 0 = send at once. */
  latentFrameSeconds: number;
  /** Debug: frame 0 of a block carries its action rows (at most {@link MAX_HEADER_ACTIONS} numbers). */
  frameActions: boolean;
  /** Width of an action row. */
  actionWidth: number;
  /** Frames the decoder makes of one latent frame (its `t_upscale`; 1 without a decoder). */
  framesPerLatent: number;
  /** Frames a decoder stream drops at its start (its `frames_to_trim`; 0 without a decoder). */
  framesTrimmed: number;
  /** Told each decode's milliseconds (the engine's load: {@link WorldEngine.noteDecode}). */
  onDecode?: (ms: number) => void;
}

/** Encoded frames of one decode. */
interface Encoded {
  payloads: Uint8Array[];
  width: number;
  height: number;
  /** When they were decoded and encoded (ms, nowMs clock). */
  at: number;
}

/** Bytes queued on a client's socket. */
export function bufferedAmount(client: Client): number {
  const ref = client.ref as unknown as { bufferedAmount?: unknown };
  return typeof ref?.bufferedAmount === 'number' ? ref.bufferedAmount : 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Decodes, encodes and sends the blocks of the views of one room. */
export class FrameDelivery {
  readonly #o: DeliveryOptions;
  constructor(opts: DeliveryOptions) {
    this.#o = opts;
  }

  /**
   * Queue block `b` of view `v` (stepped from `meta`): its decode starts now, one latent
   * frame per call on the view's stream (the stream's state carries across calls, so the
   * frames are bit for bit those of one call), and each frame is encoded and sent as soon
   * as it is decoded and due — the block's first frame does not wait for its last. Its
   * frames go out after the view's previous block's. `onError` ends the view on a
   * decode/encode failure.
   */
  enqueue(v: WorldView, meta: BlockMeta, b: LatentBlock, onError: (e: unknown) => void): void {
    // A geometry decoder's maps of the block's frames: from here on held only by the decode
    // of their frame (released as each is decoded, or when the view's stream is closed).
    const maps = meta.frameGeometry;
    meta.frameGeometry = null;
    let parts: Promise<Encoded>[];
    try {
      parts = this.#decodeParts(v, b, maps);
    } catch (e) {
      onError(e);
      return;
    }
    // The lead of the view's next blocks: stepped → first frame encoded.
    void parts[0]!.then(
      () => WorldView.record(v.decodeTimes, nowMs() - meta.stepped),
      () => undefined,
    );
    void Promise.all(parts).then(
      () => {
        meta.decoded = nowMs();
        worldMetrics.decodeSeconds.observe((meta.decoded - meta.stepped) / 1000);
      },
      () => undefined,
    );
    for (const p of parts) p.catch(() => undefined); // awaited in the chain below, which reports it
    // What the block decodes to: its latent frames × the decoder's frames per latent frame,
    // less those the stream trims at its start (the view's first block).
    const n = b.frames * this.#o.framesPerLatent - (v.blocksDelivered++ === 0 ? this.#o.framesTrimmed : 0);
    const interval = (this.#o.latentFrameSeconds * 1000) / this.#o.framesPerLatent;
    v.pendingDeliveries++;
    v.chain = v.chain
      .then(() => this.#send(v, meta, parts, n, interval))
      .catch(onError)
      .finally(() => {
        v.pendingDeliveries--;
      });
  }

  /**
   * The block's frames as encoded parts in order: one per latent frame on a decoder stream
   * (with its map, `maps[f]`, for a geometry decoder), one in all for a latent preview.
   */
  #decodeParts(v: WorldView, b: LatentBlock, maps: readonly (Float32Array | undefined)[] | null): Promise<Encoded>[] {
    const encode = async (frames: Uint8Array[], width: number, height: number): Promise<Encoded> => {
      const payloads = await Promise.all(frames.map((f) => this.#o.codec.encode(f, width, height)));
      return { payloads, width, height, at: nowMs() };
    };
    const stream = v.stream;
    if (!stream) return [encode(latentPreview(b.latents, b.channels, b.frames, b.height, b.width), b.width, b.height)];
    // The maps were drawn for the frames submitted: a block that comes out with another count is a bug here.
    if (maps && maps.length !== b.frames) throw new Error(`block of view ${v.id}: ${b.frames} latent frames came out, but its conditioning drew ${maps.length} decoder maps`);
    const missing = maps ? maps.findIndex((m) => !m) : -1;
    if (missing >= 0) throw new Error(`block of view ${v.id}: latent frame ${missing} has no decoder map (a geometry decoder takes one with every frame)`);
    const plane = b.height * b.width;
    const parts: Promise<Encoded>[] = [];
    // Each latent frame goes to the decoder when the one before is decoded, so the views
    // whose blocks came out of one batch take turns on the decoder's thread (every view's
    // first frame first) instead of the first view's whole block going ahead.
    let previous: Promise<unknown> = Promise.resolve();
    for (let f = 0; f < b.frames; f++) {
      // Latent frame f of the (C, F, H, W) block, as a (C, 1, H, W) one.
      const one = new Float32Array(b.channels * plane);
      for (let c = 0; c < b.channels; c++) one.set(b.latents.subarray((c * b.frames + f) * plane, (c * b.frames + f + 1) * plane), c * plane);
      const geometry = maps?.[f];
      const decoded = previous.then(async () => {
        const d = geometry ? await stream.decode(one, 1, b.height, b.width, { geometry }) : await stream.decode(one, 1, b.height, b.width);
        this.#o.onDecode?.(d.seconds * 1000);
        return d;
      });
      previous = decoded;
      parts.push(decoded.then((d) => encode(d.frames, d.width, d.height)));
    }
    return parts;
  }

  /**
   * Send a block's frames as their parts come in, paced over the block's world time: frame
   * i is due at the block's due time + i frame intervals; a frame already late goes at once.
   */
  async #send(v: WorldView, meta: BlockMeta, parts: Promise<Encoded>[], n: number, interval: number): Promise<void> {
    const firstSeq = v.frameSeq;
    const actions = this.#o.frameActions ? this.#headerActions(meta) : undefined;
    let i = 0;
    for (const part of parts) {
      const { payloads, width, height, at } = await part;
      const codec = codecName(this.#o.codec, width, height);
      for (const payload of payloads) {
        const wait = meta.dueAt > 0 ? meta.dueAt + i * interval - nowMs() : 0;
        if (wait > 1) await sleep(wait);
        if (v.closed || v.ended) return;
        if (i === 0) {
          v.state.blocks = meta.block + 1;
          if (meta.inputAt > 0) worldMetrics.inputToFrameSeconds.observe((nowMs() - meta.inputAt) / 1000);
        }
        this.#sendFrame(v, meta, i, n, firstSeq, width, height, codec, payload, at, i === 0 ? actions : undefined);
        i++;
        v.frameSeq = firstSeq + i;
        v.state.frames = v.frameSeq;
      }
    }
    // The count the headers told: a different one is a bug here, not the client's problem.
    if (i !== n) throw new Error(`block ${meta.block} of view ${v.id} decoded to ${i} frames, not the ${n} its headers announced`);
    v.state.blocks = meta.block + 1;
  }

  #sendFrame(v: WorldView, meta: BlockMeta, i: number, n: number, firstSeq: number, width: number, height: number, codec: string, payload: Uint8Array, decoded: number, actions: number[] | undefined): void {
    for (const p of v.subscribers) {
      if (!p.connected) continue;
      const buffered = bufferedAmount(p.client);
      // Behind: only the block's newest frame; far behind: none of it.
      if (buffered > this.#o.maxBufferedBytes || (buffered > this.#o.backpressureBytes && i < n - 1)) {
        p.dropped++;
        p.state.dropped = p.dropped;
        worldMetrics.framesDropped.inc();
        continue;
      }
      const header: FrameHeader = {
        view: v.id,
        block: meta.block,
        frame: i,
        frames: n,
        seq: firstSeq + i,
        latentFrame: meta.latentFrame,
        width,
        height,
        codec,
        input: meta.input,
        prompt: meta.prompt,
        tick: meta.tick,
        times: { submitted: meta.submitted, stepped: meta.stepped, decoded, sent: nowMs() },
        dropped: p.dropped,
      };
      if (actions) header.actions = actions;
      const env = encodeEnvelope(header, payload);
      p.client.sendBytes('frame', env);
      p.framesSent++;
      worldMetrics.framesSent.inc();
      worldMetrics.bytesSent.inc({ part: 'header' }, env.length - payload.length);
      worldMetrics.bytesSent.inc({ part: 'payload' }, payload.length);
      p.state.framesSent = p.framesSent;
    }
  }

  /** The block's action rows (the geometry maps are not in them), whole rows up to the bound. */
  #headerActions(meta: BlockMeta): number[] | undefined {
    const rows = meta.conditioning.encoded;
    const w = this.#o.actionWidth;
    if (!rows || w === 0) return undefined;
    return Array.from(rows.subarray(0, Math.min(rows.length, Math.floor(MAX_HEADER_ACTIONS / w) * w)));
  }
}
