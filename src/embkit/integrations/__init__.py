"""Doors into the ecosystem, each an optional extra: `langchain` (EmbkitEmbeddings,
EmbkitVectorStore, in `embkit.integrations.langchain`) and the MCP server. Nothing is
imported here, so `import embkit` never needs an extra's packages; `remote` is the
small HTTP client of a remote `embkit serve` that the integrations share."""
