import { readdirSync, readFileSync, rmSync } from 'node:fs';

const OPENAPI_COUNTS_DIR = '.data/openapi-response-counts';

export default async function globalTeardown() {
  await globalThis.embeddedTestDatabase?.stop();
  reportValidatedResponses();
}

/** Adds up what each test file wrote (test/setup/openapi-responses-after-suite.ts). */
function reportValidatedResponses() {
  let files = [];
  try {
    files = readdirSync(OPENAPI_COUNTS_DIR);
  } catch {
    return;
  }
  const counts = files.map((file) => JSON.parse(readFileSync(`${OPENAPI_COUNTS_DIR}/${file}`, 'utf8')));
  rmSync(OPENAPI_COUNTS_DIR, { recursive: true, force: true });
  const validated = counts.reduce((sum, count) => sum + count.validated, 0);
  const undeclared = counts.reduce((sum, count) => sum + count.undeclared, 0);
  console.log(
    `\nopenapi.json: ${validated} responses of ${counts.length} test files checked against the document; ${undeclared} undeclared.`,
  );
}
