import { readdirSync, readFileSync, rmSync } from 'node:fs';

const OPENAPI_COUNTS_DIR = '.data/openapi-response-counts';

export default async function globalTeardown() {
  await globalThis.embeddedTestDatabase?.stop();
  reportValidatedResponses();
}

/**
 * Adds up what each test file wrote (test/setup/openapi-responses-after-suite.ts): responses
 * checked, undeclared ones, and how many of the document's declared responses the suites saw
 * (OPENAPI_UNSEEN=1 lists the others).
 */
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
  const seen = new Set(counts.flatMap((count) => count.seen));
  const document = JSON.parse(readFileSync('openapi.json', 'utf8'));
  const declared = Object.values(document.paths).flatMap((operations) =>
    Object.values(operations).flatMap((operation) =>
      Object.keys(operation.responses).map((status) => `${operation.operationId} ${status}`),
    ),
  );
  console.log(
    `\nopenapi.json: ${validated} responses of ${counts.length} test files checked against the document; ${undeclared} undeclared; ` +
      `${declared.filter((response) => seen.has(response)).length} of its ${declared.length} declared responses seen.`,
  );
  if (process.env.OPENAPI_UNSEEN === '1') console.log(`not seen: ${declared.filter((response) => !seen.has(response)).join(', ')}`);
}
