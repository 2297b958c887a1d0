// serve loads the policy files on every pod's ADD: a file whose text is unchanged is not
// parsed again (the same documents, the same findings); any change is.
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FilesSource } from '../../../src/sources/files/source';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const container = (name: string, rate: string): string =>
  `apiVersion: sluice.dev/v1\nkind: Container\nmetadata: { name: ${name} }\nspec:\n  match: { ip: 198.18.64.9 }\n  download: { guarantee: ${rate} }\n  upload: { guarantee: ${rate} }\n`;

describe('FilesSource', () => {
  it('parses a file again only when its text changed', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sl-files-'));
    writeFileSync(join(dir, 'a.yaml'), container('a', '1mbit'));
    writeFileSync(join(dir, 'b.yaml'), 'kind: [unclosed\n');
    const source = new FilesSource([dir]);
    const first = await source.load();
    expect(first.documents.map((d) => d.value.metadata.name)).toEqual(['a']);
    expect(first.issues.map((i) => i.file)).toEqual([join(dir, 'b.yaml')]);

    const again = await source.load();
    expect(again.documents[0]).toBe(first.documents[0]);
    expect(again.issues).toEqual(first.issues);

    writeFileSync(join(dir, 'a.yaml'), container('a', '2mbit'));
    unlinkSync(join(dir, 'b.yaml'));
    const changed = await source.load();
    expect(changed.documents[0]).not.toBe(first.documents[0]);
    expect(JSON.stringify(changed.documents[0]!.value)).not.toBe(JSON.stringify(first.documents[0]!.value));
    expect(changed.issues).toEqual([]);
  });
});
