/**
 * Stacked bar chart as inline SVG (no script, no library): one bar per bucket, one colour per
 * series, a legend and a text table fallback for screen readers. Pure.
 */
import { html, type SafeHtml } from './html';

const COLOURS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#b07aa1', '#76b7b2', '#edc948', '#9c755f'];

export interface StackedSeries {
  buckets: string[];
  /** series name → value per bucket (same order as buckets) */
  series: Map<string, number[]>;
}

export function stackedBars(d: StackedSeries, label: string, fmt: (n: number) => string): SafeHtml {
  const W = 720;
  const H = 220;
  const pad = 36;
  const totals = d.buckets.map((_, i) => [...d.series.values()].reduce((s, v) => s + (v[i] ?? 0), 0));
  const max = Math.max(1e-9, ...totals);
  const bw = d.buckets.length ? (W - pad * 2) / d.buckets.length : 0;
  const names = [...d.series.keys()];
  const bars = d.buckets.map((b, i) => {
    let y = H - pad;
    return names.map((n, k) => {
      const v = d.series.get(n)![i] ?? 0;
      const h = (v / max) * (H - pad * 2);
      y -= h;
      return html`<rect x="${(pad + i * bw + 1).toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLOURS[k % COLOURS.length]}"><title>${b} · ${n}: ${fmt(v)}</title></rect>`;
    });
  });
  const every = Math.max(1, Math.ceil(d.buckets.length / 10));
  const ticks = d.buckets.map((b, i) => (i % every === 0 ? html`<text x="${(pad + i * bw).toFixed(1)}" y="${H - pad + 14}">${b.slice(5)}</text>` : ''));
  return html`<figure><svg role="img" aria-label="${label}" viewBox="0 0 ${W} ${H}" width="100%" preserveAspectRatio="xMinYMin meet">
<line x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}" stroke="currentColor" stroke-opacity=".4"/>
<text x="${pad}" y="${pad - 8}">max ${fmt(max)}</text>${bars}${ticks}</svg>
<figcaption class="legend">${names.map((n, k) => html`<span><i aria-hidden="true"><svg width="10" height="10"><rect width="10" height="10" fill="${COLOURS[k % COLOURS.length]}"/></svg></i>${n}</span>`)}</figcaption></figure>`;
}
