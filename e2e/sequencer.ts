// Test files run side by side (each control plane has its own database, consumer groups and Kafka
// topics). The longest end-to-end files start first, so the short ones fill the other workers around
// them instead of leaving the slowest to run alone at the end.
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const first = ['e2e/scenarios.test.ts', 'e2e/walking-skeleton.test.ts', 'e2e/correlation.test.ts'];

const rank = (spec: TestSpecification) => {
  const path = spec.moduleId.replaceAll('\\', '/');
  const known = first.findIndex((f) => path.endsWith(f));
  if (known >= 0) return known;
  return path.includes('/e2e/') ? first.length : first.length + 1;
};

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]) {
    const sorted = await super.sort(files);
    return sorted.map((spec, i) => ({ spec, i })).sort((a, b) => rank(a.spec) - rank(b.spec) || a.i - b.i).map(({ spec }) => spec);
  }
}
