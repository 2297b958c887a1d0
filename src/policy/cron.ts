// Which cron expressions a Schedule may use. cron-parser gives a window its meaning
// (src/schedule/windows.ts: the last and next start from any instant, in a time zone); node-cron
// times the openings in `serve` (daemon/serve.ts). An expression only one of them
// reads would validate and then fail (or drift) at run time, so both must accept it.

import { CronExpressionParser } from 'cron-parser';
import nodeCron from 'node-cron';

/** Why `expression` cannot start a window, or undefined when it can. */
export function cronProblem(expression: string): string | undefined {
  if (expression.trim().split(/\s+/).length !== 5) return 'five fields are needed (minute hour day-of-month month day-of-week)';
  try {
    CronExpressionParser.parse(expression);
  } catch (e) {
    return (e as Error).message;
  }
  if (!nodeCron.validate(expression)) return 'the scheduler (node-cron) does not accept it';
  return undefined;
}
