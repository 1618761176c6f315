/** Small self-contained SVG line charts for the LV-Bench HTML report (no script, no library). */

export interface Series {
  name: string;
  color: string;
  /** y per x = 1..n (null = missing). */
  values: readonly (number | null)[];
}

export interface ChartOptions {
  title: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** A horizontal reference line (e.g. 1 for normalised curves). */
  reference?: number;
}

/** Colours for runs, in order (colour-blind safe: Okabe–Ito). */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** "Nice" tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

function fmtTick(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1);
  return String(+v.toPrecision(4));
}

/** A line chart of the series over x = 1..n, as an <svg> element. */
export function lineChart(series: readonly Series[], opts: ChartOptions): string {
  const W = opts.width ?? 360;
  const H = opts.height ?? 220;
  const m = { l: 56, r: 12, t: 26, b: 38 };
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const ys = series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  if (opts.reference !== undefined) ys.push(opts.reference);
  let lo = ys.length ? Math.min(...ys) : 0;
  let hi = ys.length ? Math.max(...ys) : 1;
  if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) {
    const d = Math.abs(hi) * 0.05 || 0.5;
    lo -= d;
    hi += d;
  }
  const pad = (hi - lo) * 0.08;
  lo -= pad;
  hi += pad;
  const px = (x: number): number => m.l + (n === 1 ? 0.5 : (x - 1) / (n - 1)) * (W - m.l - m.r);
  const py = (y: number): number => m.t + (1 - (y - lo) / (hi - lo)) * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(opts.title)}">`);
  parts.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  parts.push(`<text x="${W / 2}" y="16" text-anchor="middle" font-size="13" font-weight="600">${esc(opts.title)}</text>`);
  for (const t of ticks(lo, hi)) {
    const y = py(t).toFixed(1);
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.l - 5}" y="${y}" dy="4" text-anchor="end" font-size="10" fill="#444">${fmtTick(t)}</text>`);
  }
  for (let x = 1; x <= n; x++) parts.push(`<text x="${px(x).toFixed(1)}" y="${H - m.b + 14}" text-anchor="middle" font-size="10" fill="#444">${x}</text>`);
  parts.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="#888"/><line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="#888"/>`);
  if (opts.xLabel) parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 6}" text-anchor="middle" font-size="11" fill="#222">${esc(opts.xLabel)}</text>`);
  if (opts.yLabel) parts.push(`<text transform="translate(12 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle" font-size="11" fill="#222">${esc(opts.yLabel)}</text>`);
  if (opts.reference !== undefined) parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${py(opts.reference).toFixed(1)}" y2="${py(opts.reference).toFixed(1)}" stroke="#999" stroke-dasharray="4 3"/>`);
  for (const s of series) {
    const pts: string[] = [];
    const dots: string[] = [];
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return;
      const x = px(i + 1).toFixed(1);
      const y = py(v).toFixed(1);
      pts.push(`${x},${y}`);
      dots.push(`<circle cx="${x}" cy="${y}" r="2.5" fill="${s.color}"><title>${esc(s.name)}: chunk ${i + 1} = ${v.toPrecision(5)}</title></circle>`);
    });
    if (pts.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.8" points="${pts.join(' ')}"/>`);
    parts.push(...dots);
  }
  // legend
  let lx = m.l + 4;
  series.forEach((s) => {
    parts.push(`<rect x="${lx}" y="${m.t + 2}" width="10" height="3" fill="${s.color}"/><text x="${lx + 13}" y="${m.t + 7}" font-size="10" fill="#222">${esc(s.name)}</text>`);
    lx += 20 + 6.2 * s.name.length;
  });
  parts.push('</svg>');
  return parts.join('');
}
