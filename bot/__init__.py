"""coursebot: the bot around the retrieval core — config, catalog, analysis, CLI (platforms and storage to come)."""
