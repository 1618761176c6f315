/**
 * A classical frame interpolator: bilateral (symmetric) block-matching motion-compensated
 * interpolation (as in Choi, Han, Kim & Ko 2007, "Motion-compensated frame interpolation using
 * bilateral motion estimation"), the pre-learning standard of frame-rate up-conversion. It
 * stands in for AMT in VBench's motion smoothness.
 *
 * The middle frame is cut into B×B blocks. For each block, the motion v (|vx|, |vy| ≤ R) that
 * best explains it as moving from frame a to frame b through the middle is the one minimising
 * Σ_p |Ya(p − v) − Yb(p + v)| over the block's pixels p (luma, frames extended by replicating
 * their border), plus a small penalty λ·(|vx| + |vy|) per pixel that settles flat blocks on
 * zero motion. Each pixel of the block is then the mean of the two motion-compensated samples,
 * RGB, rounded: `round((a(p − v) + b(p + v)) / 2)`. A static scene gives back the frame exactly;
 * a scene translating by up to R pixels per frame is matched exactly away from its borders.
 */
import { luma } from '../../eval/metrics.js';

export interface InterpolateOptions {
  /** Block size in pixels (default 8). */
  block?: number;
  /** Search radius in pixels per frame of motion (default 4: ±8 px between a and b). */
  radius?: number;
  /** Penalty per pixel and per pixel of motion, luma levels (default 0.25). */
  lambda?: number;
}

/** Luma with a border of r replicated pixels: (h + 2r) × (w + 2r). */
function paddedLuma(rgb: Uint8Array, w: number, h: number, r: number): Float64Array {
  const y = luma(rgb, w, h);
  const pw = w + 2 * r;
  const out = new Float64Array(pw * (h + 2 * r));
  for (let py = 0; py < h + 2 * r; py++) {
    const sy = Math.min(h - 1, Math.max(0, py - r));
    for (let px = 0; px < pw; px++) out[py * pw + px] = y[sy * w + Math.min(w - 1, Math.max(0, px - r))]!;
  }
  return out;
}

/** The frame halfway between `a` and `b` (RGB bytes, w × h). */
export function interpolateMiddle(a: Uint8Array, b: Uint8Array, w: number, h: number, opts: InterpolateOptions = {}): Uint8Array {
  const B = opts.block ?? 8;
  const R = opts.radius ?? 4;
  const lambda = opts.lambda ?? 0.25;
  if (a.length !== w * h * 3 || b.length !== w * h * 3) throw new Error(`interpolateMiddle: frames must be ${w}×${h}×3 bytes`);
  if (!Number.isInteger(B) || B < 1 || !Number.isInteger(R) || R < 0) throw new Error('interpolateMiddle: block must be ≥ 1 and radius ≥ 0 (whole numbers)');
  const ya = paddedLuma(a, w, h, R);
  const yb = paddedLuma(b, w, h, R);
  const pw = w + 2 * R;
  const out = new Uint8Array(w * h * 3);
  for (let by = 0; by < h; by += B) {
    const y1 = Math.min(h, by + B);
    for (let bx = 0; bx < w; bx += B) {
      const x1 = Math.min(w, bx + B);
      const npx = (y1 - by) * (x1 - bx);
      let best = Infinity;
      let bvx = 0;
      let bvy = 0;
      // Zero motion first, then by growing |v|, so ties keep the smallest motion.
      for (let ring = 0; ring <= R; ring++) {
        for (let vy = -ring; vy <= ring; vy++) {
          for (let vx = -ring; vx <= ring; vx++) {
            if (Math.max(Math.abs(vx), Math.abs(vy)) !== ring) continue;
            let cost = lambda * npx * (Math.abs(vx) + Math.abs(vy));
            if (cost >= best) continue;
            for (let y = by; y < y1 && cost < best; y++) {
              let ia = (y + R - vy) * pw + R - vx + bx;
              let ib = (y + R + vy) * pw + R + vx + bx;
              for (let x = bx; x < x1; x++, ia++, ib++) cost += Math.abs(ya[ia]! - yb[ib]!);
            }
            if (cost < best) {
              best = cost;
              bvx = vx;
              bvy = vy;
            }
          }
        }
      }
      for (let y = by; y < y1; y++) {
        const sya = Math.min(h - 1, Math.max(0, y - bvy));
        const syb = Math.min(h - 1, Math.max(0, y + bvy));
        for (let x = bx; x < x1; x++) {
          const ia = 3 * (sya * w + Math.min(w - 1, Math.max(0, x - bvx)));
          const ib = 3 * (syb * w + Math.min(w - 1, Math.max(0, x + bvx)));
          const o = 3 * (y * w + x);
          out[o] = Math.round((a[ia]! + b[ib]!) / 2);
          out[o + 1] = Math.round((a[ia + 1]! + b[ib + 1]!) / 2);
          out[o + 2] = Math.round((a[ia + 2]! + b[ib + 2]!) / 2);
        }
      }
    }
  }
  return out;
}
