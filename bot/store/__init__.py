"""The bot's memory: SQLModel tables, engine (SQLite or PostgreSQL), migrations and the Store API (docs/pipeline.md)."""
