/**
 * The tabs GraphiQL opens with, so analysts and frontend developers start from working
 * operations. Put an API key in the Headers pane first: { "Authorization": "Bearer lg_..." }.
 */
const header = `# Loopgate GraphiQL. Put your API key in the Headers pane below:
#   { "Authorization": "Bearer lg_..." }
# (on a local install the first admin key is in ./data/admin-key).
`;

export const graphiqlTabs = [
  {
    query: `${header}
# How is each model version doing this week? (seed targets: positive rate > 80%,
# correction rate < 10%, safety flag rate < 0.1%, collection rate > 15%)
query ModelHealth($from: DateTime) {
  feedbackStats(filter: { createdAt: { from: $from } }, groupBy: MODEL_VERSION) {
    overall { feedbackCount positiveRate correctionRate safetyFlagRate collectionRate }
    groups {
      group { modelId modelVersion }
      feedbackCount
      positiveRate
      averageRating
      correctionRate
      safetyFlagRate
      collectionRate
    }
  }
}
`,
    variables: JSON.stringify({ from: "2026-01-01T00:00:00Z" }, null, 2),
  },
  {
    query: `${header}
# Record a model answer and get a browser feedback token for it.
mutation Record {
  recordInteraction(
    withFeedbackToken: true
    input: {
      query: "How do I reset my password?"
      response: "Open Settings > Security > Reset password."
      model: { id: "support-bot", version: "2026-11-01" }
      sessionId: "session-42"
      userId: "customer-7"
    }
  ) {
    ... on RecordInteractionPayload { interaction { id } feedbackToken { token expiresAt } }
    ... on Error { message }
    ... on ValidationError { fields { path message } }
  }
}

# Then, with the interaction's id:
mutation Thumbs($id: ID!) {
  submitBinaryFeedback(input: { interactionId: $id, positive: false, comment: "Menu moved" }) {
    ... on SubmitFeedbackPayload { feedback { id sentiment } conflict { id reasons } }
    ... on Error { message }
  }
}
`,
  },
  {
    query: `${header}
# Recent negative feedback with the answers it was about.
query NegativeFeedback {
  feedback(first: 20, filter: { sentiments: [NEGATIVE] }) {
    totalCount
    edges {
      node {
        id
        kind
        key
        source
        createdAt
        comment
        ... on CorrectionFeedback { correctedResponse }
        ... on FlagFeedback { flagCategory severity }
        interaction { query response model { id version } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`,
  },
  {
    query: `${header}
# Is the candidate better than the baseline, and is the difference significant?
query CompareVersions {
  compareModelVersions(modelId: "support-bot", baselineVersion: "2026-10-01", candidateVersion: "2026-11-01") {
    baseline { judgementCount positiveRate }
    candidate { judgementCount positiveRate }
    positiveRateDifference
    pValue
    differenceLow
    differenceHigh
    significant
    sufficientData
  }
}
`,
  },
  {
    query: `${header}
# Daily trend (empty days included when both ends of the range are given).
query DailyTrend {
  feedbackTimeSeries(interval: DAY, filter: { createdAt: { from: "2026-11-01T00:00:00Z", to: "2026-12-01T00:00:00Z" } }) {
    start
    feedbackCount
    positiveRate
    collectionRate
  }
}
`,
  },
];
