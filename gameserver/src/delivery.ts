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
import type { BlockMeta, WorldView } from './view.js';

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
  /** Debug: frame 0 of a block carries its action vectors (the first `actionWidth` of each row, at most {@link MAX_HEADER_ACTIONS} numbers). */
  frameActions: boolean;
  /** Width of the action vector at the start of each encoded row. */
  actionWidth: number;
  /** Width of an encoded row (vector + geometry map). */
  rowWidth: number;
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
        const payloads = await Promise.all(d.frames.map((f) => this.#o.codec.encode(f, d.width, d.height)));
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
    // The view's frame clock: a frame is due one interval after the previous one; a view
    // that fell behind (a slow block) starts again from now rather than bursting to catch up.
    const now = nowMs();
    if (v.nextFrameAt < now - interval) v.nextFrameAt = now;
    for (let i = 0; i < n; i++) {
      const wait = v.nextFrameAt - nowMs();
      if (wait > 1) await sleep(wait);
      v.nextFrameAt += interval;
      if (v.closed || v.ended) return;
      this.#sendFrame(v, meta, i, n, firstSeq, width, height, codec, payloads[i]!, i === 0 ? actions : undefined);
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
      p.client.sendBytes('frame', encodeEnvelope(header, payload));
      p.framesSent++;
      p.state.framesSent = p.framesSent;
    }
  }

  /** The block's action vectors (no geometry maps), bounded. */
  #headerActions(meta: BlockMeta): number[] | undefined {
    const rows = meta.conditioning.encoded;
    const { actionWidth, rowWidth } = this.#o;
    if (!rows || actionWidth === 0 || rowWidth === 0) return undefined;
    const out: number[] = [];
    for (let r = 0; r * rowWidth < rows.length && out.length + actionWidth <= MAX_HEADER_ACTIONS; r++) for (let k = 0; k < actionWidth; k++) out.push(rows[r * rowWidth + k]!);
    return out;
  }
}
