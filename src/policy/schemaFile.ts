// The text of policies/schema.json, shared by the writer script and its staleness test.
import { policyJsonSchema } from './schema';

export const renderSchema = (): string => `${JSON.stringify(policyJsonSchema(), null, 2)}\n`;
