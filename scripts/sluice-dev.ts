// Runs the CLI from source (no build step): `npx tsx scripts/sluice-dev.ts <args>`.
import { main } from '../src/cli/main';

main(process.argv).catch((e: unknown) => {
  process.stderr.write(`sluice: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(2);
});
