"""Context and memory: corpora, hybrid retrieval (BM25 + embeddings + reciprocal rank fusion), and
a session's context compaction (`compaction`)."""
