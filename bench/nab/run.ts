// `npm run bench:nab`: the detectors on the NAB subset in ../shared/nab (or $NAB_DIR), scored with
// NAB's three profiles at one corpus-wide threshold each, next to the two simplest baselines; then
// speed and memory per series. One set of default settings for every file.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createDefaultDetector, createDetector, detectorNames, type DetectorName } from '../../services/analyzer/src/domain/detectors/index.ts';
import { labelPoints, normalizeScore, profiles, scoreAtThreshold, sweepThreshold, type PointLabels } from '../../services/analyzer/src/domain/detectors/nab-scoring.ts';
import { defaultNabDir, listFamilies, loadCorpus, type NabSeries } from './corpus.ts';
import { windowedGaussianScores } from './windowed-gaussian.ts';

const dir = process.env.NAB_DIR ?? defaultNabDir();
const corpus = loadCorpus(dir);
const labels = new Map<string, PointLabels>(corpus.map((s) => [s.name, labelPoints(s)]));
const totalPoints = corpus.reduce((n, s) => n + s.values.length, 0);
const totalWindows = [...labels.values()].reduce((n, l) => n + l.windows, 0);

type Scorer = (s: NabSeries) => ArrayLike<number>;

const streaming =
  (name: DetectorName): Scorer =>
  (s) => {
    const d = createDetector(name);
    const out = new Float64Array(s.values.length);
    for (let i = 0; i < out.length; i++) out[i] = d.update(s.timestampsMs[i]!, s.values[i]!).score;
    return out;
  };

const evaluate = (scorer: Scorer) => {
  const files = corpus.map((s) => ({ series: s, labels: labels.get(s.name)!, scores: scorer(s) }));
  return { files, results: profiles.map((p) => ({ profile: p, ...sweepThreshold(files, p) })) };
};

const pad = (text: string | number, width: number) => String(text).padStart(width);
const row = (name: string, cells: string[]) => `${name.padEnd(24)}${cells.map((c) => pad(c, 22)).join('')}`;

console.log(`NAB subset: ${corpus.length} files, ${totalPoints.toLocaleString('en-US')} points, ${totalWindows} windows (${dir})`);
console.log('normalised score: 100 = every window caught at its start, 0 = a detector that never fires\n');
console.log(row('detector', [...profiles.map((p) => p.name), 'threshold (std)']));

const ours = evaluate(streaming('default'));
const rows: Array<[string, ReturnType<typeof evaluate>]> = [
  ['heph default', ours],
  ['windowed Gaussian', evaluate((s) => windowedGaussianScores(s.values))],
  ['never fires (null)', evaluate((s) => new Float64Array(s.values.length))],
];
for (const [name, { results }] of rows) {
  console.log(row(name, [...results.map((r) => r.normalized.toFixed(2)), Number.isFinite(results[0]!.threshold) ? results[0]!.threshold.toFixed(4) : '-']));
}
console.log('\nthe default set\'s members alone:');
for (const name of detectorNames.filter((n) => n !== 'default')) {
  const { results } = evaluate(streaming(name));
  console.log(row(`  ${name}`, [...results.map((r) => r.normalized.toFixed(2)), results[0]!.threshold.toFixed(4)]));
}

console.log('\nper file family (heph default, each profile at its corpus-wide threshold):');
console.log(row('family', [...profiles.map((p) => p.name), 'windows caught (std)']));
for (const family of listFamilies(corpus)) {
  const files = ours.files.filter((f) => f.series.family === family);
  const windows = files.reduce((n, f) => n + f.labels.windows, 0);
  const cells = ours.results.map(({ profile, threshold }) => {
    const scored = files.map((f) => scoreAtThreshold(f.labels, f.scores, threshold, profile));
    const raw = scored.reduce((n, r) => n + r.raw, 0);
    const fp = scored.reduce((n, r) => n + r.falsePositives, 0);
    return windows > 0 ? normalizeScore(raw, windows, profile).toFixed(2) : `raw ${raw.toFixed(2)}, ${fp} FP`;
  });
  const std = files.map((f) => scoreAtThreshold(f.labels, f.scores, ours.results[0]!.threshold, profiles[0]!));
  cells.push(`${std.reduce((n, r) => n + r.detectedWindows, 0)} / ${windows}, ${std.reduce((n, r) => n + r.falsePositives, 0)} FP`);
  console.log(row(family, cells));
}

// Speed: the default set over the whole corpus, reading only the score (explanations are built when read).
let best = 0;
for (let run = 0; run < 5; run++) {
  const started = performance.now();
  let sink = 0;
  for (const s of corpus) {
    const d = createDefaultDetector();
    for (let i = 0; i < s.values.length; i++) sink += d.update(s.timestampsMs[i]!, s.values[i]!).score;
  }
  const elapsed = performance.now() - started;
  if (sink < 0) console.log(sink);
  best = Math.max(best, (totalPoints / elapsed) * 1000);
}
console.log(`\nspeed: ${Math.round(best).toLocaleString('en-US')} points/s on one core (default set, best of 5 passes over the corpus)`);

// Memory: the heap a detector holds once it has seen a series (all bins filled), over many series.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const longest = corpus.reduce((a, s) => (s.values.length > a.values.length ? s : a));
const count = 2000;
const prime = (d: ReturnType<typeof createDefaultDetector>) => {
  for (let i = 0; i < 3000; i++) d.update(longest.timestampsMs[i * 7]!, longest.values[i * 7]!);
};
gc();
const before = process.memoryUsage().heapUsed;
const kept = Array.from({ length: count }, () => {
  const d = createDefaultDetector();
  prime(d);
  return d;
});
gc();
const perSeries = (process.memoryUsage().heapUsed - before) / count;
const seasonal = kept[0]!.state.members[4].bins.byteLength;
console.log(`state: ${Math.round(perSeries).toLocaleString('en-US')} bytes per series on the heap (${count} series, detector objects and closures included; ${seasonal} bytes of them are the seasonal bins)`);
console.log('\npublished on these 31 files, same scoring (standard): ARTime 73.6, Numenta HTM 69.5, CAD OSE 66.1, Random Cut Forest 61.3, earthgecko Skyline 51.6, Twitter ADVec 44.1, windowed Gaussian 37.7');
