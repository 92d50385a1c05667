"""Analysis verbs over a collection's vectors: clusters, maps, outliers, duplicates,
recommendations, word arithmetic and drift. Each takes a Collection (or vectors) and
returns plain results; the Collection methods and the CLI call these."""
