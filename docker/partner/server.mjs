// Zhejiang's sample subgraph: its cross-store return desks, joined to liaison-graph's stores,
// cities and contact points by code. A province copies this file and replaces DESKS with its
// own data source.
//
//   PORT=4002 node server.mjs
//
// With ROUTER_SECRET set, `_entities` and `_service` answer only requests whose
// X-Router-Secret header holds it (the router sends it; see gateway.mjs), as liaison-graph
// does with LIAISON_ROUTER_SECRET.

import { readFileSync } from "node:fs";
import { timingSafeEqual } from "node:crypto";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginInlineTraceDisabled } from "@apollo/server/plugin/disabled";
import { startStandaloneServer } from "@apollo/server/standalone";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { GraphQLError, Kind, parse } from "graphql";

const typeDefs = parse(readFileSync(new URL("./zhejiang.graphql", import.meta.url), "utf8"));

/** The desks, at Zhejiang stores of liaison-graph's demo data; mediators are Shanghai contact points. */
const DESKS = [
  {
    id: "ZJ-RD-0001",
    storeCode: "ST330100-00001",
    cityCode: "330100",
    openingHours: "每日 10:00-22:00",
    contactPointCode: "CP310115-00001",
  },
  {
    id: "ZJ-RD-0002",
    storeCode: "ST330200-00001",
    cityCode: "330200",
    openingHours: "每日 10:00-21:30",
    contactPointCode: "CP310101-00001",
  },
  {
    id: "ZJ-RD-0003",
    storeCode: "ST330100-00038",
    cityCode: "330100",
    openingHours: "周一至周五 09:30-20:00",
    contactPointCode: "CP310101-00002",
  },
  {
    id: "ZJ-RD-0004",
    storeCode: "ST330200-00044",
    cityCode: "330200",
    openingHours: "每日 09:00-21:00",
    contactPointCode: "CP310101-00003",
  },
  {
    id: "ZJ-RD-0005",
    storeCode: "ST330400-00056",
    cityCode: "330400",
    openingHours: "周二至周日 10:00-20:30",
    contactPointCode: "CP310115-00001",
  },
];

const byId = new Map(DESKS.map((desk) => [desk.id, desk]));
const byStore = new Map(DESKS.map((desk) => [desk.storeCode, desk]));

const resolvers = {
  Query: {
    zhejiangReturnDesks: () => DESKS,
  },
  ReturnDesk: {
    __resolveReference: ({ id }) => byId.get(id) ?? null,
    // References: the router fetches the rest of each from liaison-graph by code.
    store: (desk) => ({ __typename: "Store", code: desk.storeCode }),
    city: (desk) => ({ __typename: "District", code: desk.cityCode }),
    mediatingContactPoint: (desk) =>
      desk.contactPointCode ? { __typename: "ContactPoint", code: desk.contactPointCode } : null,
  },
  Store: {
    // Any store liaison-graph knows may be asked for: only Zhejiang's with a desk have one.
    __resolveReference: ({ code }) => ({ code }),
    returnDesk: (store) => byStore.get(store.code) ?? null,
  },
};

const secret = process.env.ROUTER_SECRET || null;

function fromRouter(headers) {
  if (secret === null) return true;
  const given = Buffer.from(String(headers["x-router-secret"] ?? ""));
  const wanted = Buffer.from(secret);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** The names of the fields an operation selects at its root, through fragments too. */
function rootFieldNames(selectionSet, document, names = new Set(), seen = new Set()) {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      names.add(selection.name.value);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      rootFieldNames(selection.selectionSet, document, names, seen);
    } else if (selection.kind === Kind.FRAGMENT_SPREAD && !seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      const fragment = document.definitions.find(
        (d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value,
      );
      if (fragment) rootFieldNames(fragment.selectionSet, document, names, seen);
    }
  }
  return names;
}

/** Refuses `_entities` and `_service` to anyone but the router, when ROUTER_SECRET is set. */
const routerOnly = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation, document, contextValue }) {
        if (contextValue.fromRouter) return;
        const names = rootFieldNames(operation.selectionSet, document);
        if (names.has("_entities") || names.has("_service")) {
          throw new GraphQLError("`_entities` and `_service` answer only the federation router.", {
            extensions: { code: "FORBIDDEN", http: { status: 200 } },
          });
        }
      },
    };
  },
};

const server = new ApolloServer({
  schema: buildSubgraphSchema({ typeDefs, resolvers }),
  plugins: [routerOnly, ApolloServerPluginInlineTraceDisabled()],
  includeStacktraceInErrorResponses: false,
});

const port = Number(process.env.PORT ?? 4002);
const { url } = await startStandaloneServer(server, {
  listen: { host: process.env.HOST ?? "127.0.0.1", port },
  context: async ({ req }) => ({ fromRouter: fromRouter(req.headers) }),
});
console.error(`zhejiang subgraph ready at ${url}`);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => server.stop().then(() => process.exit(0)));
}
