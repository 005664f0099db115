// For benches configured by environment variables only: `--help` prints the usage and exits 0; any
// other argument is refused with the usage and exit code 2.
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

export const helpOrRefuse = (usage: string): void => {
  let help: boolean | undefined;
  try {
    help = parseArgs({ options: { help: { type: 'boolean', short: 'h', default: false } } }).values.help;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    process.exit(2);
  }
  if (help) {
    console.log(usage);
    process.exit(0);
  }
};

/** For benches with options: parses them (with `--help`), or refuses a bad one with the usage and exit code 2. */
export const parseOrRefuse = <O extends ParseArgsOptionsConfig>(usage: string, options: O): ReturnType<typeof parseArgs<{ options: O }>>['values'] => {
  try {
    const { values } = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h', default: false } } });
    if ((values as Record<string, unknown>).help) {
      console.log(usage);
      process.exit(0);
    }
    return values as ReturnType<typeof parseArgs<{ options: O }>>['values'];
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    process.exit(2);
  }
};
