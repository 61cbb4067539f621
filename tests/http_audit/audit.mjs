// graphql-http's server audits (GraphQL over HTTP conformance) against a live endpoint.
//
//   node audit.mjs http://127.0.0.1:8000/graphql
//
// Prints one JSON line per audit: {"id", "name", "status"} and, when it did not pass,
// "reason" and the response's status and body. Exits 1 if any audit is not ok, 2 on
// bad usage or a fatal error (the server could not be reached, say).
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url || process.argv.length > 3) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}

let failed = 0;
for (const audit of serverAudits({ url, fetchFn: fetch })) {
  let result;
  try {
    result = await audit.fn(); // throws only on a fatal error, not on a failed audit
  } catch (err) {
    console.error(`audit ${audit.id} (${audit.name}) could not run: ${err?.cause ?? err}`);
    process.exit(2);
  }
  const line = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    failed += 1;
    line.reason = result.reason;
    line.responseStatus = result.response.status;
    line.responseBody = await result.response.text().catch((err) => `(body unreadable: ${err})`);
  }
  console.log(JSON.stringify(line));
}
process.exitCode = failed ? 1 : 0; // not process.exit(): stdout gets flushed first
