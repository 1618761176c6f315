/**
 * The LV-Bench report as one static HTML page (index.html next to report.json): the VDE table of
 * every run and scorer, the mean normalised drift curves (m_i / m_1), then per video its
 * captions, its per-chunk curves per scorer (one line per run) and its frame strip (one row per
 * run, the middle frame of every chunk). No scripts, no external assets but the strip PNGs.
 */
import { PALETTE, lineChart } from './plot.js';
import type { Report } from './report.js';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number | null | undefined, d = 3): string => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(d));

export function renderHtml(rep: Report): string {
  const color = new Map(rep.runs.map((r, i) => [r.name, PALETTE[i % PALETTE.length]!]));
  const scorers = rep.scorers.map((s) => s.name);
  const h: string[] = [];
  h.push('<!doctype html><html lang="en"><head><meta charset="utf-8">');
  h.push(`<title>LV-Bench report: ${esc(rep.manifest.name)}</title>`);
  h.push(
    '<style>body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1500px}h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}' +
      'table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}th{background:#f5f5f5;text-align:center}td:first-child,th:first-child{text-align:left}' +
      '.charts{display:flex;flex-wrap:wrap;gap:8px}.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}.muted{color:#666}.strip img{image-rendering:pixelated;max-width:100%}' +
      '.best{font-weight:700}.err{color:#b00}</style></head><body>',
  );
  h.push(`<h1>LV-Bench long-video evaluation — ${esc(rep.manifest.name)}</h1>`);
  h.push(
    `<p class="muted">${rep.videos.length} video(s) from <code>${esc(rep.manifest.path)}</code>, model <code>${esc(rep.model.dir)}</code>, ` +
      `${rep.settings.width}×${rep.settings.height} at ${fmt(rep.settings.fps, 1)} frames/s; each video split into N = ${rep.settings.chunks} equal chunks (remainder trimmed); ` +
      `VDE = Σ<sub>i=2..N</sub> w<sub>i</sub>·|m<sub>i</sub> − m<sub>1</sub>|/m<sub>1</sub>, w<sub>i</sub> = N − i + 1 (log: ln(N − i + 1)); lower is less drift. Generated ${esc(rep.createdAt)} in ${fmt(rep.wallSeconds, 0)} s.</p>`,
  );
  // runs
  h.push('<h2>Runs</h2><table><tr><th>run</th><th>settings</th><th>frames/s (step+decode)</th><th>generation s</th></tr>');
  for (const r of rep.runs)
    h.push(`<tr><td><span class="swatch" style="background:${color.get(r.name)}"></span>${esc(r.name)}</td><td style="text-align:left">${esc(r.description)}</td><td>${fmt(r.framesPerSecond, 1)}</td><td>${fmt(r.generationSeconds, 1)}</td></tr>`);
  h.push('</table>');
  // summary
  const table = (key: 'vde' | 'vdeLog', title: string): void => {
    h.push(`<h3>${title}</h3><table><tr><th>run</th>${scorers.map((s) => `<th>${esc(s)}</th>`).join('')}</tr>`);
    const best = new Map(scorers.map((s) => [s, Math.min(...rep.runs.map((r) => rep.summary[r.name]![s]![key] ?? Infinity))]));
    for (const r of rep.runs) {
      const cells = scorers.map((s) => {
        const c = rep.summary[r.name]![s]!;
        const v = c[key];
        const cls = v !== null && v === best.get(s) && rep.runs.length > 1 ? ' class="best"' : '';
        const err = c.errors.length ? ` <span class="err" title="${esc(c.errors.join('\n'))}">(${c.errors.length} error${c.errors.length > 1 ? 's' : ''})</span>` : '';
        return `<td${cls}>${fmt(v)}${err}</td>`;
      });
      h.push(`<tr><td><span class="swatch" style="background:${color.get(r.name)}"></span>${esc(r.name)}</td>${cells.join('')}</tr>`);
    }
    h.push('</table>');
  };
  h.push('<h2>Video Drift Error, mean over videos</h2>');
  table('vde', 'linear weights (LV-Bench default)');
  table('vdeLog', 'log weights');
  h.push('<div class="charts">');
  for (const s of scorers)
    h.push(
      lineChart(
        rep.runs.map((r) => ({ name: r.name, color: color.get(r.name)!, values: rep.summary[r.name]![s]!.curve })),
        { title: `${s}: mean m_i / m_1`, xLabel: 'chunk', yLabel: 'm_i / m_1', reference: 1 },
      ),
    );
  h.push('</div>');
  // scorers
  h.push('<h2>Scorers</h2><table><tr><th>scorer</th><th>m_i of a chunk</th><th>stands for</th></tr>');
  for (const s of rep.scorers) h.push(`<tr><td>${esc(s.name)}</td><td style="text-align:left">${esc(s.description)}</td><td style="text-align:left">${esc(s.upstream)}</td></tr>`);
  h.push('</table>');
  // videos
  for (const v of rep.videos) {
    h.push(`<h2>Video ${esc(v.id)}</h2>`);
    const caps = v.captions.map((c) => `${fmt(c.start, 1)}–${fmt(c.end, 1)} s “${esc(c.text)}”`).join(' · ');
    const applied = Object.values(v.runs)[0]?.generation.prompts ?? [];
    const timeline = applied.map((p) => `${fmt(p.t, 1)} s “${esc(p.text)}”`).join(' → ');
    h.push(
      `<p class="muted">${fmt(v.seconds, 1)} s${v.split ? `, ${esc(v.split)} split` : ''}${v.opening ? `, opening ${esc(v.opening)}` : ''}, ${v.actions} actions. ` +
        `Session prompt: ${timeline}.</p><details class="muted"><summary>${v.captions.length} captions</summary>${caps}</details>`,
    );
    h.push('<table><tr><th>run</th>' + scorers.map((s) => `<th>VDE ${esc(s)}</th>`).join('') + '<th>frames</th><th>gen s</th></tr>');
    for (const r of rep.runs) {
      const vr = v.runs[r.name];
      if (!vr) continue;
      const cells = scorers.map((s) => {
        const x = vr.scores.find((y) => y.scorer === s);
        return x?.error ? `<td class="err" title="${esc(x.error)}">error</td>` : `<td>${fmt(x?.vde)}</td>`;
      });
      h.push(`<tr><td><span class="swatch" style="background:${color.get(r.name)}"></span>${esc(r.name)}</td>${cells.join('')}<td>${vr.generation.frames}</td><td>${fmt(vr.generation.wallSeconds, 1)}</td></tr>`);
    }
    h.push('</table><div class="charts">');
    for (const s of scorers)
      h.push(
        lineChart(
          rep.runs.filter((r) => v.runs[r.name]).map((r) => ({ name: r.name, color: color.get(r.name)!, values: v.runs[r.name]!.scores.find((x) => x.scorer === s)?.chunks ?? [] })),
          { title: `${s} per chunk`, xLabel: 'chunk', yLabel: s },
        ),
      );
    h.push('</div>');
    if (v.strip) {
      h.push(`<p class="muted">Frame strip: rows ${rep.runs.map((r) => esc(r.name)).join(', ')} (top to bottom); columns = the middle frame of chunks 1–${rep.settings.chunks} (frames ${v.stripFrames.join(', ')}).</p>`);
      h.push(`<div class="strip"><img src="${esc(v.strip)}" alt="frame strip of ${esc(v.id)}"></div>`);
    }
  }
  h.push('<h2>Notes</h2><ul>' + rep.notes.map((n) => `<li>${esc(n)}</li>`).join('') + '</ul>');
  h.push('</body></html>');
  return h.join('\n');
}
