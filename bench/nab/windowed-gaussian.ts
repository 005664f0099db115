// NAB's "windowed Gaussian" baseline, as numenta/NAB's windowedGaussian detector computes it: the
// two-sided Gaussian tail of each value against the mean and deviation of up to 6,400 previous values,
// refreshed every 100 points. Scores 37.7 (standard) on this subset from NAB's own result files.

/** Complementary error function (Numerical Recipes' erfcc: relative error under 1.2e-7). */
const erfc = (x: number): number => {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
};

export const windowedGaussianScores = (values: ReadonlyArray<number>, windowSize = 6400, stepSize = 100): Float64Array => {
  const scores = new Float64Array(values.length);
  let window: number[] = [];
  let step: number[] = [];
  let mean = 0;
  let std = 1;
  const refresh = () => {
    mean = window.reduce((a, b) => a + b, 0) / window.length;
    std = Math.sqrt(window.reduce((a, b) => a + (b - mean) ** 2, 0) / window.length) || 1e-6;
  };
  values.forEach((value, i) => {
    if (window.length > 0) scores[i] = 1 - 0.5 * erfc(Math.abs(value - mean) / std / Math.SQRT2);
    if (window.length < windowSize) {
      window.push(value);
      refresh();
    } else {
      step.push(value);
      if (step.length === stepSize) {
        window = window.slice(stepSize).concat(step);
        step = [];
        refresh();
      }
    }
  });
  return scores;
};
