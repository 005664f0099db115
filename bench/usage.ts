// For benches configured by environment variables only: `--help` prints the usage and exits 0; any
// other argument is refused with the usage and exit code 2.
import { parseArgs } from 'node:util';

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
