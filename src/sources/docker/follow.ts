// Following a Docker daemon's events: a container that starts, stops or changes network
// triggers a reload (the daemon re-reads the view and ticks). If the daemon goes away
// the stream ends; the last good state stays in force and we reconnect, then reload,
// since events were missed while it was gone.

import type { Logger } from '../../ports/logger';
import type { DockerEngine, DockerEvent, EventSubscription } from './engine';

export interface FollowerOptions {
  /** Wait after an event for more of the same burst (compose up starts several). */
  readonly debounceMs?: number;
  readonly retryMs?: number;
}

export class DockerFollower {
  private stopped = false;
  private subscription: EventSubscription | undefined;
  private pending: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private reasons: string[] = [];
  private down = false;

  constructor(
    private readonly engine: DockerEngine,
    private readonly logger: Logger,
    private readonly onChange: (reason: string) => void,
    private readonly options: FollowerOptions = {},
  ) {}

  start(): void {
    void this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        this.subscription = await this.engine.follow((e) => this.changed(e));
        if (this.down) this.logger.log('info', 'docker daemon reachable again; re-reading containers', { endpoint: this.engine.endpoint });
        this.down = false;
        // Anything that happened before (or while) we were subscribing.
        this.onChange('docker events followed');
        await this.subscription.ended;
      } catch {
        // Unreachable: handled below like an ended stream.
      }
      if (this.stopped) return;
      if (!this.down) this.logger.log('warn', 'docker daemon unreachable; the last good state stays in force', { endpoint: this.engine.endpoint });
      this.down = true;
      await new Promise<void>((resolve) => {
        this.retry = setTimeout(resolve, this.options.retryMs ?? 1000);
      });
    }
  }

  private changed(event: DockerEvent): void {
    this.reasons.push(`${event.type} ${event.action}${event.name ? ` ${event.name}` : ''}`);
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      const reason = `docker: ${this.reasons.join(', ')}`;
      this.reasons = [];
      this.onChange(reason);
    }, this.options.debounceMs ?? 50);
  }

  stop(): void {
    this.stopped = true;
    if (this.pending) clearTimeout(this.pending);
    if (this.retry) clearTimeout(this.retry);
    this.subscription?.stop();
  }
}
