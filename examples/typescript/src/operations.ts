// The operations this client runs. Codegen types them and lists them in
// src/gql/persisted-documents.json; the service runs them by hash once they are pushed.
import { graphql } from "./gql/index.js";

/** Returns bought in one Delta province and brought back in another, in a span of days. */
export const ReturnsBroughtBack = graphql(`
  query ReturnsBroughtBack($from: Date!, $before: Date!, $first: Int!) {
    crossStoreReturns(first: $first, filter: { returnedFrom: $from, returnedBefore: $before }) {
      totalCount
      nodes {
        code
        purchasedOn
        returnedOn
        amount
        purchaseStore { name }
        returnStore { name }
      }
    }
  }
`);

/** A district's settled cases opened in a period, with what was claimed and recovered. */
export const SettledCases = graphql(`
  query SettledCases($district: String!, $from: DateTime!, $before: DateTime!, $first: Int!) {
    cases(first: $first, filter: { districtCodes: [$district], openedFrom: $from, openedBefore: $before, settled: true }) {
      totalCount
      nodes {
        number
        openedAt
        closedAt
        amountClaimed
        amountRecovered
      }
    }
  }
`);
