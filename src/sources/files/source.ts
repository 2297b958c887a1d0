// Policy files as a source: the Host, the Container and Schedule documents people
// write. It is the root source: its Host says which workload sources are read too.
// Followed by watching the paths (a burst of saves is one reload).

import { watch, type FSWatcher } from 'node:fs';
import { parseFiles, type LocatedDocument, type ParsedFiles } from '../../policy/documents';
import type { PolicyIssue } from '../../policy/load';
import type { Logger } from '../../ports/logger';
import type { SourceSnapshot, Stop, WorkloadSource } from '../source';
import { readPolicyFiles } from './read';

/** A files snapshot also says which files were read, and whether any could not be. */
export interface FilesSnapshot extends SourceSnapshot {
  readonly files: readonly string[];
  /** A path could not be read: `issues` say which; nothing else is worth validating. */
  readonly unreadable: boolean;
}

const DEBOUNCE_MS = 200;

/** A file's text and what parsing it gave (parsing is pure: the same text, the same documents). */
interface ParsedText extends ParsedFiles {
  readonly text: string;
}

export class FilesSource implements WorkloadSource {
  readonly name = 'files';
  readonly noun = 'policy file';
  /**
   * Each file as the last load parsed it: serve loads on every pod's ADD, and parsing the
   * unchanged YAML again was a fifth of that load (0.9 ms of 4); the files are still read.
   */
  private parsed: ReadonlyMap<string, ParsedText> = new Map();

  constructor(
    readonly paths: readonly string[],
    private readonly logger?: Logger,
  ) {}

  async load(): Promise<FilesSnapshot> {
    const read = await readPolicyFiles(this.paths);
    const files = read.files.map((f) => f.path);
    const origin = this.paths.join(', ');
    if (read.issues.length > 0) return { documents: [], issues: read.issues, workloads: [], origin, files, unreadable: true };
    const documents: LocatedDocument[] = [];
    const issues: PolicyIssue[] = [];
    const parsedNow = new Map<string, ParsedText>();
    for (const file of read.files) {
      const known = this.parsed.get(file.path);
      const parsed = known?.text === file.text ? known : { text: file.text, ...parseFiles([file]) };
      parsedNow.set(file.path, parsed);
      documents.push(...parsed.documents);
      issues.push(...parsed.issues);
    }
    this.parsed = parsedNow;
    return { documents, issues, workloads: [], origin, files, unreadable: false };
  }

  follow(onChange: (reason: string) => void): Stop {
    const watchers: FSWatcher[] = [];
    let pending: NodeJS.Timeout | undefined;
    const changed = (): void => {
      if (pending) clearTimeout(pending);
      pending = setTimeout(() => onChange('file changed'), DEBOUNCE_MS);
    };
    for (const path of this.paths) {
      try {
        watchers.push(watch(path, changed));
      } catch (e) {
        this.logger?.log('warn', 'cannot watch policy path; reload with SIGHUP', { path, error: (e as Error).message });
      }
    }
    return () => {
      if (pending) clearTimeout(pending);
      for (const w of watchers.splice(0)) w.close();
    };
  }
}
