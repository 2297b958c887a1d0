import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderSchema } from '../../src/policy/schemaFile';

describe('policies/schema.json', () => {
  it('is generated from the code (run `npm run schema` after changing src/policy/schema.ts)', () => {
    expect(readFileSync('policies/schema.json', 'utf8')).toBe(renderSchema());
  });
});
