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
  /** World time one block stands for (s): its frames leave spaced over it. 0 = send at once. */
  blockSeconds: number;
  /** Debug: frame 0 of a block carries its action rows (at most {@link MAX_HEADER_ACTIONS} numbers). */
  frameActions: boolean;
  /** Width of an action row. */
  actionWidth: number;
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
   * Queue block `b` of view `v` (stepped from `meta`): its decode starts now; its frames go
   * out after the view's previous block's. `onError` ends the view on a decode/encode failure.
   */
  enqueue(v: WorldView, meta: BlockMeta, b: LatentBlock, onError: (e: unknown) => void): void {
    const decoding: Promise<{ frames: Uint8Array[]; width: number; height: number }> = v.stream
      ? v.stream.decode(b.latents, b.frames, b.height, b.width).then((d) => ({ frames: d.frames, width: d.width, height: d.height }))
      : Promise.resolve({ frames: latentPreview(b.latents, b.channels, b.frames, b.height, b.width), width: b.width, height: b.height });
    decoding.catch(() => undefined); // awaited in the chain below, which reports it
    v.pendingDeliveries++;
    v.chain = v.chain
      .then(async () => {
        const d = await decoding;
        meta.decoded = nowMs();
        worldMetrics.decodeSeconds.observe((meta.decoded - meta.stepped) / 1000);
        const payloads = await Promise.all(d.frames.map((f) => this.#o.codec.encode(f, d.width, d.height)));
        WorldView.record(v.decodeTimes, nowMs() - meta.stepped); // decode + encode, for the just-in-time lead
        if (v.closed || v.ended) return;
        await this.#send(v, meta, d.width, d.height, payloads);
      })
      .catch(onError)
      .finally(() => {
        v.pendingDeliveries--;
      });
  }

  /** Send a block's encoded frames, paced over the block's world time. */
  async #send(v: WorldView, meta: BlockMeta, width: number, height: number, payloads: Uint8Array[]): Promise<void> {
    const n = payloads.length;
    const firstSeq = v.frameSeq;
    v.frameSeq += n;
    v.state.blocks = meta.block + 1;
    v.state.frames = v.frameSeq;
    if (n === 0) return;
    const codec = codecName(this.#o.codec, width, height);
    const actions = this.#o.frameActions ? this.#headerActions(meta) : undefined;
    const interval = (this.#o.blockSeconds * 1000) / n;
    // Frame i is due at the block's due time + i intervals (its world-time span); a frame
    // already late goes at once. A block without a due time (0) is sent as it comes.
    for (let i = 0; i < n; i++) {
      const wait = meta.dueAt > 0 ? meta.dueAt + i * interval - nowMs() : 0;
      if (wait > 1) await sleep(wait);
      if (v.closed || v.ended) return;
      this.#sendFrame(v, meta, i, n, firstSeq, width, height, codec, payloads[i]!, i === 0 ? actions : undefined);
      if (i === 0 && meta.inputAt > 0) worldMetrics.inputToFrameSeconds.observe((nowMs() - meta.inputAt) / 1000);
    }
  }

  #sendFrame(v: WorldView, meta: BlockMeta, i: number, n: number, firstSeq: number, width: number, height: number, codec: string, payload: Uint8Array, actions: number[] | undefined): void {
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
        times: { submitted: meta.submitted, stepped: meta.stepped, decoded: meta.decoded, sent: nowMs() },
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
