// GraphQL Code Generator: typed documents from src/operations.ts against the committed SDL,
// and the persisted-documents manifest `liaison queries push` saves.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../schema.graphql",
  documents: ["src/**/*.ts", "!src/gql/**"],
  ignoreNoDocuments: false,
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: {
        // Operations are sent by hash only: the bundle holds no query text, and a service in
        // trusted-documents-only mode runs nothing else. sha256: the service's own hash.
        persistedDocuments: { mode: "replaceDocumentWithHash", hashAlgorithm: "sha256" },
        fragmentMasking: false,
      },
      config: {
        // The custom scalars arrive as JSON strings, and nothing parses them on the way in:
        // a `Date` object type would be a lie. Decimal stays a string so that no sum of yuan
        // passes through a binary float (use a decimal library for arithmetic).
        // `_Any` is federation's, for routers only.
        scalars: { Date: "string", DateTime: "string", Decimal: "string", _Any: "unknown" },
        strictScalars: true, // a new custom scalar fails codegen until it is mapped here
        enumsAsTypes: true,
        useTypeImports: true,
        emitLegacyCommonJSImports: false, // `.js` in imports, as Node's ES modules want
      },
    },
  },
};

export default config;
