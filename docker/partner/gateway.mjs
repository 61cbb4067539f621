// A federation router over liaison-graph and Zhejiang's subgraph: @apollo/gateway in
// @apollo/server. (Production routers may be Apollo Router or Hive Gateway instead; what this
// one does to requests is what they must do too.)
//
//   LIAISON_URL=http://127.0.0.1:8000/graphql ZHEJIANG_URL=http://127.0.0.1:4002/ \
//   ROUTER_SECRET=... PORT=4000 node gateway.mjs
//   node gateway.mjs http://127.0.0.1:8000/graphql http://127.0.0.1:4002/   # the same, by args
//
// The supergraph is composed at start-up from the subgraphs' `_service { sdl }`
// (IntrospectAndCompose), or read from SUPERGRAPH=<file> written by
// `node compose.mjs ... --out <file>` (the routing URLs are then that file's).
//
// To every subgraph request it adds X-Router-Secret: $ROUTER_SECRET (when set): liaison-graph
// (LIAISON_ROUTER_SECRET) and server.mjs (ROUTER_SECRET) answer `_entities` and `_service`
// only with it. The client's Authorization header goes to liaison-graph only, which decides
// what the caller may read; no other incoming header is passed on.
//
// For every subgraph request it prints one JSON line to stdout:
//   {"subgraph", "kind", "operationName", "entities", "typenames", "authorization"}
// where entities is the number of representations of an `_entities` fetch (else null),
// typenames counts them by __typename, and authorization says whether the caller's
// credential went along. Its own messages go to stderr.

import { readFileSync } from "node:fs";
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";

const [liaisonArg, zhejiangArg] = process.argv.slice(2);
const LIAISON_URL = liaisonArg ?? process.env.LIAISON_URL ?? "http://127.0.0.1:8000/graphql";
const ZHEJIANG_URL = zhejiangArg ?? process.env.ZHEJIANG_URL ?? "http://127.0.0.1:4002/";
const ROUTER_SECRET = process.env.ROUTER_SECRET || null;
const SUPERGRAPH = process.env.SUPERGRAPH || null;
const PORT = Number(process.env.PORT ?? 4000);

/** Subgraphs that receive the caller's Authorization header. */
const TRUSTED_WITH_CREDENTIALS = new Set(["liaison"]);

class PartnerDataSource extends RemoteGraphQLDataSource {
  willSendRequest({ request, context, kind }) {
    if (ROUTER_SECRET !== null) request.http.headers.set("X-Router-Secret", ROUTER_SECRET);
    const authorization = context?.authorization;
    if (authorization && TRUSTED_WITH_CREDENTIALS.has(this.name)) {
      request.http.headers.set("Authorization", authorization);
    }
    log(this.name, kind, request, request.http.headers.has("Authorization"));
  }
}

function log(subgraph, kind, request, authorization) {
  const query = request.query ?? "";
  const representations = /\b_entities\s*\(/.test(query) ? (request.variables?.representations ?? []) : null;
  let typenames = null;
  if (representations !== null) {
    typenames = {};
    for (const representation of representations) {
      const name = representation?.__typename ?? null;
      typenames[name] = (typenames[name] ?? 0) + 1;
    }
  }
  const line = {
    subgraph,
    kind,
    operationName: request.operationName ?? null,
    entities: representations === null ? null : representations.length,
    typenames,
    authorization,
  };
  process.stdout.write(JSON.stringify(line) + "\n");
}

const subgraphs = [
  { name: "liaison", url: LIAISON_URL },
  { name: "zhejiang", url: ZHEJIANG_URL },
];

const gateway = new ApolloGateway({
  ...(SUPERGRAPH
    ? { supergraphSdl: readFileSync(SUPERGRAPH, "utf8") }
    : { supergraphSdl: new IntrospectAndCompose({ subgraphs }) }),
  buildService: ({ name, url }) => new PartnerDataSource({ name, url }),
});

const server = new ApolloServer({ gateway, includeStacktraceInErrorResponses: false });
const { url } = await startStandaloneServer(server, {
  listen: { host: process.env.HOST ?? "127.0.0.1", port: PORT },
  context: async ({ req }) => ({ authorization: req.headers.authorization ?? null }),
});
console.error(`router ready at ${url} over ${SUPERGRAPH ?? subgraphs.map((s) => `${s.name}=${s.url}`).join(", ")}`);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => server.stop().then(() => process.exit(0)));
}
