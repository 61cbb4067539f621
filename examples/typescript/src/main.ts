// Runs this client's two operations against the service at LIAISON_URL (default
// http://127.0.0.1:8000) with the bearer API key or SSO token in LIAISON_TOKEN, and prints
// what came back as one line of JSON.
import { client } from "./client.js";
import { ReturnsBroughtBack, SettledCases } from "./operations.js";

// The formats the schema's @specifiedBy names: RFC 3339 full-date and date-time, decimal text.
const FULL_DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;

function check(value: string | null, format: RegExp, what: string): void {
  if (value !== null && !format.test(value)) throw new Error(`${what} ${JSON.stringify(value)} is not ${format}`);
}

/** Yuan as a whole number of fen: sums stay exact, with no binary float on the way. */
function fen(yuan: string): bigint {
  const [whole, fraction = ""] = yuan.replace(/^-/, "").split(".");
  if (fraction.length > 2) throw new Error(`${yuan} is finer than a fen`);
  const amount = BigInt(whole) * 100n + BigInt(fraction.padEnd(2, "0"));
  return yuan.startsWith("-") ? -amount : amount;
}

async function main(): Promise<void> {
  const execute = client(`${process.env.LIAISON_URL ?? "http://127.0.0.1:8000"}/graphql`, process.env.LIAISON_TOKEN);

  const returns = await execute(ReturnsBroughtBack, { from: "2021-01-01", before: "2022-01-01", first: 5 });
  for (const r of returns.crossStoreReturns?.nodes ?? []) {
    check(r.purchasedOn, FULL_DATE, "purchasedOn");
    check(r.returnedOn, FULL_DATE, "returnedOn");
    check(r.amount, DECIMAL, "amount");
  }

  const settled = await execute(SettledCases, {
    district: "310115",
    from: "2020-01-01T00:00:00+08:00",
    before: "2021-01-01T00:00:00+08:00",
    first: 5,
  });
  let recovered = 0n;
  for (const c of settled.cases?.nodes ?? []) {
    check(c.openedAt, DATE_TIME, "openedAt");
    check(c.closedAt, DATE_TIME, "closedAt");
    check(c.amountClaimed, DECIMAL, "amountClaimed");
    check(c.amountRecovered, DECIMAL, "amountRecovered");
    if (c.amountRecovered !== null) recovered += fen(c.amountRecovered);
  }

  console.log(
    JSON.stringify({
      returns: returns.crossStoreReturns,
      settledCases: settled.cases,
      recoveredOnThisPage: `${recovered / 100n}.${String(recovered % 100n).padStart(2, "0")}`,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
