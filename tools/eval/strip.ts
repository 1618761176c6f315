/**
 * Frame grids as PNG: rows of equally sized RGB frames (HWC bytes) with gaps between them,
 * written with sharp. The eval's truth-vs-model strips and LV-Bench's per-video frame strips
 * (tools/lvbench/report_html.ts) are both grids.
 */
import sharp from 'sharp';

/** Gap between frames and around the grid, in pixels. */
export const GRID_GAP = 2;
/** Gray level of the gaps. */
export const GRID_BACKGROUND = 32;

/**
 * Writes `rows` (each a list of width × height × 3 RGB frames; rows may differ in length, the
 * grid is as wide as the longest) as one PNG at `path`.
 */
export async function writeFrameGrid(path: string, rows: readonly (readonly Uint8Array[])[], width: number, height: number, gap = GRID_GAP): Promise<void> {
  const cols = Math.max(0, ...rows.map((r) => r.length));
  if (rows.length === 0 || cols === 0) throw new Error(`frame grid ${path}: no frames`);
  const fb = width * height * 3;
  const W = cols * width + (cols + 1) * gap;
  const H = rows.length * height + (rows.length + 1) * gap;
  const img = new Uint8Array(W * H * 3).fill(GRID_BACKGROUND);
  rows.forEach((row, ri) =>
    row.forEach((src, j) => {
      if (src.length !== fb) throw new Error(`frame grid ${path}: frame (${ri}, ${j}) has ${src.length} bytes, expected ${width}×${height}×3 = ${fb}`);
      const x0 = gap + j * (width + gap);
      const y0 = gap + ri * (height + gap);
      for (let y = 0; y < height; y++) img.set(src.subarray(y * width * 3, (y + 1) * width * 3), ((y0 + y) * W + x0) * 3);
    }),
  );
  await sharp(img, { raw: { width: W, height: H, channels: 3 } })
    .png()
    .toFile(path);
}

/** Draws a 1-px rectangle (inclusive pixel box) of `color` (bytes) into an RGB frame, in place, clipped to the frame. */
export function drawBox(rgb: Uint8Array, width: number, height: number, box: { x0: number; y0: number; x1: number; y1: number }, color: readonly [number, number, number]): void {
  const put = (x: number, y: number): void => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    rgb.set(color, (y * width + x) * 3);
  };
  for (let x = box.x0; x <= box.x1; x++) {
    put(x, box.y0);
    put(x, box.y1);
  }
  for (let y = box.y0; y <= box.y1; y++) {
    put(box.x0, y);
    put(box.x1, y);
  }
}
