// Seeded kernel tests (random policies, the fault injector): a fixed list of seeds that
// every run replays, so CI is reproducible, plus one random extra, so runs keep finding
// new cases. Every seed is printed; an environment variable names seeds to replay alone.

export interface SeedPlan {
  readonly seeds: readonly number[];
  /** The seeds came from the environment (a replay): no random extra. */
  readonly replay: boolean;
  /** The line to print: the seeds and how to replay them. */
  readonly banner: string;
}

/**
 * `fixed` and one random extra, or, when `env[name]` is set ("17" or "17,42"), exactly
 * those seeds.
 */
export function seedPlan(name: string, fixed: readonly number[], env: Readonly<Record<string, string | undefined>> = process.env, extra: () => number = () => Math.floor(Math.random() * 2 ** 31)): SeedPlan {
  const given = env[name];
  if (given !== undefined && given.trim() !== '') {
    const seeds = given.split(',').map((s) => Number(s.trim()));
    const bad = seeds.find((s) => !Number.isInteger(s) || s < 0);
    if (bad !== undefined) throw new Error(`${name}=${given}: seeds are non-negative integers, comma-separated`);
    return { seeds, replay: true, banner: `seeds ${seeds.join(',')} from ${name} (a replay)` };
  }
  const seeds = [...fixed, extra()];
  return { seeds, replay: false, banner: `seeds ${fixed.join(',')} (fixed) and ${seeds.at(-1)} (random extra); replay one with ${name}=<seed>, all with ${name}=${seeds.join(',')}` };
}
