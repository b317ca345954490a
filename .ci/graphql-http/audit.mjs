// GraphQL-over-HTTP conformance: every MUST and SHOULD of graphql-http's serverAudits.
// Usage: node audit.mjs http://127.0.0.1:PORT/graphql   (exit 1 on any error or warning)
import { serverAudits } from 'graphql-http';

const url = process.argv[2] ?? 'http://127.0.0.1:8765/graphql';
const counts = { ok: 0, warn: 0, error: 0, notice: 0 };
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  counts[result.status] = (counts[result.status] ?? 0) + 1;
  if (result.status !== 'ok') {
    console.log(`${result.status.toUpperCase()} ${audit.id} ${audit.name}: ${result.reason}`);
  }
}
console.log(`graphql-http audit: ${counts.ok} ok, ${counts.error} errors, ${counts.warn} warnings, ${counts.notice} notices`);
process.exit(counts.error + counts.warn === 0 ? 0 : 1);
