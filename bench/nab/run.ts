// `npm run bench:nab`: the detectors on the NAB subset in ../shared/nab (or $NAB_DIR), scored with
// NAB's three profiles at one corpus-wide threshold each, next to the two simplest baselines; then the
// same scored leave-one-family-out (the threshold chosen without the family it is scored on); then
// speed and memory per series, and one table of our rows beside the published detectors.
import { serialize, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { combineDetectors } from '../../services/analyzer/src/domain/detectors/combined.ts';
import { createDefaultDetector, createDetector, defaultMembers, detectorNames, type DetectorName } from '../../services/analyzer/src/domain/detectors/index.ts';
import { createRangeDetector } from '../../services/analyzer/src/domain/detectors/range.ts';
import { createSeasonalDetector, dayMs, weekMs } from '../../services/analyzer/src/domain/detectors/seasonal-baseline.ts';
import { labelPoints, normalizeScore, profiles, scoreAtThreshold, sweepThreshold, type PointLabels } from '../../services/analyzer/src/domain/detectors/nab-scoring.ts';
import { defaultNabDir, listFamilies, loadCorpus, type NabSeries } from './corpus.ts';
import { familiesOf, familyOf, leaveOneFamilyOut, scoreByFamily, summarize, type Candidate, type ScoredFile } from './lofo.ts';
import { windowedGaussianScores } from './windowed-gaussian.ts';
import { helpOrRefuse } from '../usage.ts';

const usage = `usage: npm run bench:nab [-- --help]

Scores the detectors on the NAB subset in ../shared/nab (or NAB_DIR) with NAB's three profiles:
in-sample (one corpus-wide threshold) and leave-one-family-out (the threshold chosen on the other
families), each detector alone and the default set with one more member, the default set as it was
before robust replaced shape in it (2026-12-04, with seasonal learning at 0.1 and trusting the week
after two, and range without its guard against a count back at its old high), the windowed Gaussian and null baselines and the published anchors; then speed (points/s
on one core, the set with shape in the same run) and state per series. About 2 minutes.

  NAB_DIR           the NAB subset to score (default ../shared/nab)
  -h, --help        show this help`;
helpOrRefuse(usage);

const progress = (message: string) => process.stderr.write(`bench:nab: ${message}\n`);

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

// The default set as it was before robust replaced shape (2026-12-04), seasonal and range as they were
// then too, for the before/after rows and the speed ratio in one run.
const previousMember = (n: DetectorName) =>
  n === 'robust'
    ? createDetector('shape')
    : n === 'seasonal'
      ? createSeasonalDetector({ learningRate: 0.1, cycles: [{ periodMs: dayMs, bins: 24 }, { periodMs: weekMs, bins: 168 }] })
      : n === 'range'
        ? createRangeDetector({ minBeyondSd: 0 })
        : createDetector(n);
const createPreviousDefault = () => combineDetectors(defaultMembers.map(previousMember));
const previousScorer: Scorer = (s) => {
  const d = createPreviousDefault();
  const out = new Float64Array(s.values.length);
  for (let i = 0; i < out.length; i++) out[i] = d.update(s.timestampsMs[i]!, s.values[i]!).score;
  return out;
};

// Every detector runs once per file; every threshold sweep, in-sample or per fold, reuses these scores.
const evaluate = (scorer: Scorer) => {
  const files = corpus.map((s): ScoredFile & { series: NabSeries } => ({ series: s, family: familyOf(s.family), labels: labels.get(s.name)!, scores: scorer(s) }));
  return { files, results: profiles.map((p) => ({ profile: p, ...sweepThreshold(files, p) })) };
};

const pad = (text: string | number, width: number) => String(text).padStart(width);
const row = (name: string, cells: string[]) => `${name.padEnd(24)}${cells.map((c) => pad(c, 22)).join('')}`;
const figure = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

progress(`scoring ${corpus.length} files with ${detectorNames.length} detectors and the windowed Gaussian`);
const scored = new Map(detectorNames.map((name) => [name, evaluate(streaming(name))]));
const ours = scored.get('default')!;
const previous = evaluate(previousScorer);
const gaussian = evaluate((s) => windowedGaussianScores(s.values));
const never = evaluate((s) => new Float64Array(s.values.length));

console.log(`NAB subset: ${corpus.length} files, ${totalPoints.toLocaleString('en-US')} points, ${totalWindows} windows (${dir})`);
console.log('normalised score: 100 = every window caught at its start, 0 = a detector that never fires\n');
console.log(row('detector', [...profiles.map((p) => p.name), 'threshold (std)']));

const rows: Array<[string, ReturnType<typeof evaluate>]> = [
  ['heph default', ours],
  ['set with shape', previous],
  ['windowed Gaussian', gaussian],
  ['never fires (null)', never],
];
for (const [name, { results }] of rows) {
  console.log(row(name, [...results.map((r) => r.normalized.toFixed(2)), Number.isFinite(results[0]!.threshold) ? results[0]!.threshold.toFixed(4) : '-']));
}
const alone = detectorNames.filter((n) => n !== 'default');
console.log('\neach detector alone ((set): a member of the default set):');
for (const name of alone) {
  const { results } = scored.get(name)!;
  console.log(row(`  ${name}${defaultMembers.includes(name) ? ' (set)' : ''}`, [...results.map((r) => r.normalized.toFixed(2)), results[0]!.threshold.toFixed(4)]));
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

// Leave one family out: what the bench tunes (the threshold) is chosen on the other families only.
progress('leave-one-family-out: sweeping thresholds per fold');
const families = familiesOf(ours.files);
const folders = (family: string) => listFamilies(corpus).filter((f) => familyOf(f) === family);
const lofo = (candidates: Candidate[]) => profiles.map((p) => leaveOneFamilyOut(candidates, p));
const oursLofo = lofo([{ name: 'default', files: ours.files }]);
const gaussianLofo = lofo([{ name: 'windowed Gaussian', files: gaussian.files }]);
const previousLofo = lofo([{ name: 'set with shape', files: previous.files }]);
// Were the detector chosen as well (among the default set and each member alone), would the default win every fold?
const choiceLofo = lofo(detectorNames.map((name) => ({ name, files: scored.get(name)!.files })));
// In-sample per family, so the LOFO mean has an in-sample figure weighted the same way beside it.
const oursInSampleFamilies = ours.results.map(({ profile, threshold }) => scoreByFamily(ours.files, threshold, profile));
const oursInSample = oursInSampleFamilies.map((scores, k) => summarize(scores, profiles[k]!));

console.log(`\nleave-one-family-out (LOFO): ${families.length} families, ${families.map((f) => (folders(f).length > 1 ? `${f} (${folders(f).join(' + ')})` : f)).join(', ')}`);
console.log('the artificial folders are one family: artificialNoAnomaly has no window, so alone it has no score.');
console.log(`each family is scored at the threshold (per profile) chosen on the other ${families.length - 1}; the bench tunes`);
console.log(`nothing else, so the detector settings are the shipped defaults (chosen on all ${corpus.length} files).`);
console.log(row('held out (heph default)', [...profiles.map((p) => p.name), 'threshold (std)', 'windows caught (std)', 'in-sample (std)']));
families.forEach((family, k) => {
  const std = oursLofo[0]!.folds[k]!;
  console.log(
    row(family, [
      ...oursLofo.map((r) => figure(r.folds[k]!.normalized)),
      figure(std.threshold, 4),
      `${std.detectedWindows} / ${std.windows}, ${std.falsePositives} FP`,
      figure(oursInSampleFamilies[0]![k]!.normalized),
    ]),
  );
});
console.log(row('mean of the families', [...oursLofo.map((r) => figure(r.mean)), '', '', figure(oursInSample[0]!.mean)]));
console.log(row('pooled (all windows)', [...oursLofo.map((r) => figure(r.pooled)), '', '', figure(oursInSample[0]!.pooled)]));
// Each detector alone, held out the same way: its threshold chosen on the other families.
console.log(`\neach detector alone, LOFO (mean of the families, per profile; then the pooled score and each held-out family, standard):`);
console.log(`${row('detector', [...profiles.map((p) => p.name), 'pooled (std)'])}   ${families.join(' / ')} (std)`);
for (const name of alone) {
  const r = lofo([{ name, files: scored.get(name)!.files }]);
  console.log(`${row(`  ${name}`, [...r.map((x) => figure(x.mean)), figure(r[0]!.pooled)])}   ${r[0]!.folds.map((f) => figure(f.normalized, 1)).join(' / ')}`);
}
// The default set with one more member: the combiner's score is the members' maximum, so these are the
// scores that set would give. A candidate for the set must raise both the in-sample and the LOFO figures.
console.log('\nthe default set plus one detector (in-sample per profile, then LOFO mean of the families per profile):');
console.log(row('default +', [...profiles.map((p) => `in ${p.name.replace('reward_', '')}`), ...profiles.map((p) => `LOFO ${p.name.replace('reward_', '')}`)]));
for (const name of alone.filter((n) => !defaultMembers.includes(n))) {
  const extra = scored.get(name)!.files;
  const files = ours.files.map((f, i) => {
    const scores = Float64Array.from(f.scores, (v, k) => Math.max(v, extra[i]!.scores[k]!));
    return { ...f, scores };
  });
  const inSample = profiles.map((p) => sweepThreshold(files, p).normalized);
  console.log(row(`  ${name}`, [...inSample.map((x) => figure(x)), ...lofo([{ name, files }]).map((x) => figure(x.mean))]));
}
console.log(
  `\nwith the detector chosen too (standard): ${choiceLofo[0]!.folds.map((f) => `${f.family} gets ${f.detector} at ${figure(f.threshold, 4)} (${figure(f.normalized)})`).join(', ')}`,
);

// Speed: the default set over the whole corpus, reading only the score (explanations are built when read).
progress('measuring speed and state per series');
// The set with shape runs in turn with it, pass by pass, so a busy machine slows both alike.
let best = 0;
let bestPrevious = 0;
const pass = (create: () => { update: (t: number, v: number) => { score: number } }) => {
  const started = performance.now();
  let sink = 0;
  for (const s of corpus) {
    const d = create();
    for (let i = 0; i < s.values.length; i++) sink += d.update(s.timestampsMs[i]!, s.values[i]!).score;
  }
  if (sink < 0) console.log(sink);
  return (totalPoints / (performance.now() - started)) * 1000;
};
for (let run = 0; run < 5; run++) {
  best = Math.max(best, pass(() => createDefaultDetector()));
  bestPrevious = Math.max(bestPrevious, pass(createPreviousDefault));
}
console.log(`\nspeed: ${Math.round(best).toLocaleString('en-US')} points/s on one core (default set, best of 5 passes over the corpus)`);
console.log(`       ${Math.round(bestPrevious).toLocaleString('en-US')} points/s for the set with shape in the same run: the default set takes ${(bestPrevious / best).toFixed(2)}× its time`);

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

// Each detector alone: speed (best of 3 passes) and the size of its checkpoint (v8-serialized state, as
// the analyzer persists it) once it has seen the longest series.
console.log('\neach detector alone: speed on one core (best of 3 passes) and checkpoint size (v8-serialized state after the longest file)');
for (const name of detectorNames) {
  let fastest = 0;
  for (let run = 0; run < 3; run++) {
    const started = performance.now();
    let sink = 0;
    for (const s of corpus) {
      const d = createDetector(name);
      for (let i = 0; i < s.values.length; i++) sink += d.update(s.timestampsMs[i]!, s.values[i]!).score;
    }
    if (sink < 0) console.log(sink);
    fastest = Math.max(fastest, (totalPoints / (performance.now() - started)) * 1000);
  }
  const d = createDetector(name);
  for (let i = 0; i < longest.values.length; i++) d.update(longest.timestampsMs[i]!, longest.values[i]!);
  console.log(`  ${name.padEnd(14)}${pad(Math.round(fastest).toLocaleString('en-US'), 12)} points/s${pad(serialize(d.state).byteLength.toLocaleString('en-US'), 10)} bytes`);
}

// NAB's published result files on these 31 files, scored as above (../shared/nab/README.md gives the
// standard profile only). Their thresholds were chosen on NAB's whole 58-file corpus.
const published: Array<[string, number]> = [
  ['ARTime', 73.6],
  ['Numenta HTM', 69.5],
  ['CAD OSE', 66.1],
  ['Random Cut Forest', 61.3],
  ['earthgecko Skyline', 51.6],
  ['Twitter ADVec', 44.1],
  ['windowed Gaussian', 37.7],
];
const wide = (name: string, cells: string[]) => `${name.padEnd(44)}${cells.map((c) => pad(c, 20)).join('')}`;
console.log('\nsummary (normalised score; in-sample = threshold chosen on all 31 files, LOFO = on the other families)');
console.log(wide('', profiles.map((p) => p.name)));
const summary: Array<[string, number[]]> = [
  ['heph default, in-sample (31 files pooled)', ours.results.map((r) => r.normalized)],
  ['heph default, in-sample, mean of families', oursInSample.map((r) => r.mean)],
  ['heph default, LOFO, mean of families', oursLofo.map((r) => r.mean)],
  ['heph default, LOFO, pooled', oursLofo.map((r) => r.pooled)],
  ['set with shape (until 12-04), in-sample', previous.results.map((r) => r.normalized)],
  ['set with shape, LOFO, mean of families', previousLofo.map((r) => r.mean)],
  ['set with shape, LOFO, pooled', previousLofo.map((r) => r.pooled)],
  ['heph, detector chosen too, LOFO mean', choiceLofo.map((r) => r.mean)],
  ['windowed Gaussian, in-sample', gaussian.results.map((r) => r.normalized)],
  ['windowed Gaussian, LOFO, mean of families', gaussianLofo.map((r) => r.mean)],
  ['never fires (null)', never.results.map((r) => r.normalized)],
];
for (const [name, cells] of summary) console.log(wide(name, cells.map((c) => figure(c))));
console.log('published on these 31 files (NAB result files):');
for (const [name, standard] of published) console.log(wide(`  ${name}`, [standard.toFixed(1), '-', '-']));
