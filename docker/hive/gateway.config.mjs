// Hive Gateway over liaison-graph and Zhejiang's subgraph: what docker/partner/gateway.mjs
// does with @apollo/gateway, here with The Guild's router.
//
//   LIAISON_URL=http://127.0.0.1:8000/graphql ZHEJIANG_URL=http://127.0.0.1:4002/ \
//   ROUTER_SECRET=... PORT=4000 npx hive-gateway supergraph --config-path gateway.config.mjs
//
// The supergraph is composed at start-up, and again every minute (POLLING=<duration> or
// --polling changes it), from the subgraphs' `_service { sdl }` by
// @theguild/federation-composition, the composer Hive itself uses. `_service` is asked with
// the router secret: liaison-graph (LIAISON_ROUTER_SECRET) and server.mjs (ROUTER_SECRET)
// answer it and `_entities` only with it.
//
// To every subgraph request it adds X-Router-Secret: $ROUTER_SECRET (when set). The client's
// Authorization header goes to liaison-graph only, which decides what the caller may read;
// no other incoming header is passed on.
//
// For every subgraph request it prints one JSON line to stdout, as gateway.mjs does:
//   {"subgraph", "kind", "entities", "typenames", "authorization", "routerSecret"}
// where entities is the number of representations in an `_entities` request (else null),
// typenames counts them by __typename, and authorization / routerSecret say whether those
// headers went along.

import { defineConfig } from "@graphql-hive/gateway";
import { composeServices } from "@theguild/federation-composition";
import { parse } from "graphql";

const ROUTER_SECRET = process.env.ROUTER_SECRET || null;

const SUBGRAPHS = [
  { name: "liaison", url: process.env.LIAISON_URL ?? "http://127.0.0.1:8000/graphql" },
  { name: "zhejiang", url: process.env.ZHEJIANG_URL ?? "http://127.0.0.1:4002/" },
];

/** Subgraphs that receive the caller's Authorization header. */
const TRUSTED_WITH_CREDENTIALS = new Set(["liaison"]);

function routerHeaders() {
  return ROUTER_SECRET === null ? {} : { "x-router-secret": ROUTER_SECRET };
}

async function sdlOf({ name, url }) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...routerHeaders() },
    body: JSON.stringify({ query: "{ _service { sdl } }" }),
  });
  const body = await response.json();
  if (!body?.data?._service?.sdl) throw new Error(`${name} at ${url} gave no _service sdl: ${JSON.stringify(body)}`);
  log({ subgraph: name, kind: "loading schema", entities: null, typenames: null, authorization: false, routerSecret: ROUTER_SECRET !== null });
  return { name, url, typeDefs: parse(body.data._service.sdl) };
}

async function supergraph() {
  const composed = composeServices(await Promise.all(SUBGRAPHS.map(sdlOf)));
  if (composed.errors?.length) {
    throw new Error(`the subgraphs do not compose: ${composed.errors.map((e) => e.message).join("; ")}`);
  }
  return composed.supergraphSdl;
}

function countByTypename(representations) {
  const counts = {};
  for (const { __typename = null } of representations) counts[__typename] = (counts[__typename] ?? 0) + 1;
  return counts;
}

function log(line) {
  process.stdout.write(JSON.stringify(line) + "\n");
}

/** One line per subgraph request, from the headers and body actually sent. */
const subgraphRequestLog = {
  onFetch({ url, options }) {
    const subgraph = SUBGRAPHS.find((s) => s.url === url)?.name;
    if (subgraph === undefined) return;
    const headers = new Headers(options.headers);
    let request = {};
    try {
      request = JSON.parse(options.body);
    } catch {
      // not a JSON body: no representations to count
    }
    // Hive Gateway batches a plan's `_entities` fetches to one subgraph into one request,
    // each under an alias with its own `_vN_representations` variable: all are counted.
    const representations = /\b_entities\s*\(/.test(request.query ?? "")
      ? Object.entries(request.variables ?? {})
          .filter(([name]) => name === "representations" || name.endsWith("_representations"))
          .flatMap(([, value]) => value)
      : null;
    log({
      subgraph,
      kind: "request",
      entities: representations === null ? null : representations.length,
      typenames: representations === null ? null : countByTypename(representations),
      authorization: headers.has("authorization"),
      routerSecret: headers.get("x-router-secret") === ROUTER_SECRET && ROUTER_SECRET !== null,
    });
  },
};

export const gatewayConfig = defineConfig({
  supergraph,
  // A redeployed subgraph's schema is taken up within a minute (Hive's default, 10 s, asks
  // both subgraphs for `_service` six times a minute).
  pollingInterval: 60_000,
  propagateHeaders: {
    fromClientToSubgraphs({ request, subgraphName }) {
      const headers = routerHeaders();
      const authorization = request.headers.get("authorization");
      if (authorization && TRUSTED_WITH_CREDENTIALS.has(subgraphName)) headers.authorization = authorization;
      return headers;
    },
  },
  plugins: () => [subgraphRequestLog],
});
