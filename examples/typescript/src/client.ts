// A client of a persisted-documents-only API in a few lines: send the document's hash as
// `documentId` (GraphQL over HTTP's persisted documents), never its text.
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";

export class GraphQLError extends Error {
  constructor(readonly errors: { message: string; extensions?: { code?: string } }[]) {
    super(errors.map((e) => `${e.extensions?.code ?? "ERROR"}: ${e.message}`).join("; "));
  }
}

export function client(endpoint: string, token?: string) {
  return async function execute<Result, Variables>(
    document: TypedDocumentNode<Result, Variables>,
    variables: Variables,
  ): Promise<Result> {
    // The client preset's `replaceDocumentWithHash` leaves only `__meta__.hash` ("sha256:<hex>").
    const documentId = (document as { __meta__?: { hash?: string } }).__meta__?.hash;
    if (!documentId) throw new Error("not a persisted document: run `npm run codegen`");
    const response = await fetch(endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/graphql-response+json, application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ documentId, variables }),
    });
    // GraphQL over HTTP: a JSON body, errors included, whatever the status; anything else is not this API.
    const text = await response.text();
    let body: { data?: Result | null; errors?: GraphQLError["errors"] };
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`HTTP ${response.status} from ${endpoint}: ${text.slice(0, 200)}`);
    }
    if (body.errors?.length) throw new GraphQLError(body.errors);
    if (!response.ok || body.data == null) throw new Error(`HTTP ${response.status} without data`);
    return body.data;
  };
}
