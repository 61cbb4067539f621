// Composes liaison-graph's subgraph SDL with a partner's, with two independent composers:
// Apollo's (@apollo/composition, what @apollo/gateway and rover use) and The Guild's
// (@theguild/federation-composition, what Hive uses). A partner schema must pass both.
//
//   node compose.mjs ../../schema.graphql zhejiang.graphql [--out supergraph.graphql]
//       [--liaison-url http://127.0.0.1:8000/graphql] [--partner-url http://127.0.0.1:4002/]
//
// Prints one JSON line per composer: {"composer", "ok", "errors": [{code, message}],
// "hints": [{code, message}] (Apollo's; The Guild's composer gives none: null)}. Writes
// Apollo's supergraph SDL to --out when both succeed. Exits 1 if either reports an error,
// 2 on bad arguments. The partner subgraph is named after its file (zhejiang.graphql:
// "zhejiang"); ours is "liaison".

import { readFileSync, writeFileSync } from "node:fs";
import { basename, extname } from "node:path";
import { parseArgs } from "node:util";
import { composeServices as apolloCompose } from "@apollo/composition";
import { composeServices as guildCompose } from "@theguild/federation-composition";
import { parse } from "graphql";

function usage(message) {
  console.error(`${message}\nusage: node compose.mjs OUR.graphql PARTNER.graphql [--out FILE] [--liaison-url URL] [--partner-url URL]`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      out: { type: "string" },
      "liaison-url": { type: "string", default: "http://127.0.0.1:8000/graphql" },
      "partner-url": { type: "string", default: "http://127.0.0.1:4002/" },
    },
  });
} catch (error) {
  usage(error.message);
}
const { values, positionals } = parsed;
if (positionals.length !== 2) usage("expected two SDL files");
const [oursPath, partnerPath] = positionals;

function subgraph(name, path, url) {
  try {
    return { name, url, typeDefs: parse(readFileSync(path, "utf8"), { noLocation: false }) };
  } catch (error) {
    const entry = { code: "INVALID_SDL", message: `${path}: ${error.message}` };
    console.log(JSON.stringify({ composer: "parse", ok: false, errors: [entry], hints: null }));
    process.exit(1);
  }
}

const services = [
  subgraph("liaison", oursPath, values["liaison-url"]),
  subgraph(basename(partnerPath, extname(partnerPath)), partnerPath, values["partner-url"]),
];

const describe = (error) => ({
  code: error.extensions?.code ?? error.code ?? null,
  message: error.message,
});

const results = [];

const apollo = apolloCompose(services);
results.push({
  composer: "@apollo/composition",
  ok: !apollo.errors?.length,
  errors: (apollo.errors ?? []).map(describe),
  hints: (apollo.hints ?? []).map((hint) => ({ code: hint.definition?.code ?? null, message: hint.message })),
});

const guild = guildCompose(services);
results.push({
  composer: "@theguild/federation-composition",
  ok: !guild.errors?.length,
  errors: (guild.errors ?? []).map(describe),
  hints: null,
});

for (const result of results) console.log(JSON.stringify(result));

const ok = results.every((result) => result.ok);
if (ok && values.out) writeFileSync(values.out, apollo.supergraphSdl);
process.exit(ok ? 0 : 1);
