import { mkdirSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { responseCounts } from '../support/openapi-responses.js';

// Registered for every test file (jest setupFilesAfterEach): how many responses the file checked
// against openapi.json and which declared ones it saw, for global-teardown.js to add up and print
// (the folder is theirs too).
const OPENAPI_COUNTS_DIR = '.data/openapi-response-counts';

afterAll(() => {
  const counts = responseCounts();
  if (counts.validated === 0) return;
  mkdirSync(OPENAPI_COUNTS_DIR, { recursive: true });
  writeFileSync(`${OPENAPI_COUNTS_DIR}/${randomUUID()}.json`, JSON.stringify(counts));
});
