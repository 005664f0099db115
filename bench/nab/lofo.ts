// Leave-one-family-out (LOFO) for the NAB bench: what is tuned (the threshold, and the detector when
// several are offered) is chosen on every family but one and scored on the one left out. Pure.
import { normalizeScore, scoreAtThreshold, sweepThreshold, type CostProfile, type PointLabels } from '../../services/analyzer/src/domain/detectors/nab-scoring.ts';

/**
 * The family of a NAB folder. The two artificial folders are one family: artificialNoAnomaly has no
 * window, so held out alone it has no score (NAB's normalisation divides by its windows).
 */
export const familyOf = (folder: string): string => (folder.startsWith('artificial') ? 'artificial' : folder);

/** One file's labels and the per-point scores a detector gave it, computed once and reused by every fold. */
export type ScoredFile = { family: string; labels: PointLabels; scores: ArrayLike<number> };

/** A detector that could be chosen: its scores on every file of the corpus. */
export type Candidate = { name: string; files: readonly ScoredFile[] };

/** A family's NAB score at one threshold; `normalized` is NaN for a family without a window. */
export type FamilyScore = { family: string; raw: number; windows: number; normalized: number; detectedWindows: number; falsePositives: number };

/** A held-out family, with the detector and threshold chosen on the other families. */
export type Fold = FamilyScore & { detector: string; threshold: number };

/** The families in the order they first appear. */
export const familiesOf = (files: readonly ScoredFile[]): string[] => [...new Set(files.map((f) => f.family))];

/** Each family's score at one threshold, as NAB scores a corpus: raw scores summed over the family's files, then normalised. */
export const scoreByFamily = (files: readonly ScoredFile[], threshold: number, profile: CostProfile): FamilyScore[] =>
  familiesOf(files).map((family) => {
    const score: FamilyScore = { family, raw: 0, windows: 0, normalized: Number.NaN, detectedWindows: 0, falsePositives: 0 };
    for (const f of files.filter((x) => x.family === family)) {
      const r = scoreAtThreshold(f.labels, f.scores, threshold, profile);
      score.raw += r.raw;
      score.windows += f.labels.windows;
      score.detectedWindows += r.detectedWindows;
      score.falsePositives += r.falsePositives;
    }
    if (score.windows > 0) score.normalized = normalizeScore(score.raw, score.windows, profile);
    return score;
  });

/**
 * `mean`: the unweighted mean of the families' normalised scores (families without a window left
 * out), so a small family counts as much as a large one. `pooled`: every family's raw score over all
 * their windows, as NAB normalises a whole corpus.
 */
export const summarize = (scores: readonly FamilyScore[], profile: CostProfile): { mean: number; pooled: number } => {
  const scored = scores.filter((s) => s.windows > 0);
  const raw = scores.reduce((n, s) => n + s.raw, 0);
  const windows = scores.reduce((n, s) => n + s.windows, 0);
  return {
    mean: scored.reduce((n, s) => n + s.normalized, 0) / scored.length,
    pooled: windows > 0 ? normalizeScore(raw, windows, profile) : Number.NaN,
  };
};

/**
 * For each family: every candidate's corpus-wide threshold is swept on the other families, the
 * candidate scoring best there wins (ties to the first listed), and the held-out family is scored at
 * its threshold. Every candidate must list the same files in the same order.
 */
export const leaveOneFamilyOut = (candidates: readonly Candidate[], profile: CostProfile): { folds: Fold[]; mean: number; pooled: number } => {
  const folds = familiesOf(candidates[0]!.files).map((family): Fold => {
    const trained = candidates.map((c) => ({ name: c.name, files: c.files, ...sweepThreshold(c.files.filter((f) => f.family !== family), profile) }));
    const chosen = trained.reduce((a, b) => (b.normalized > a.normalized ? b : a));
    const [heldOut] = scoreByFamily(chosen.files.filter((f) => f.family === family), chosen.threshold, profile);
    return { ...heldOut!, detector: chosen.name, threshold: chosen.threshold };
  });
  return { folds, ...summarize(folds, profile) };
};
