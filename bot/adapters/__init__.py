"""Platform adapters: each turns platform payloads into Events (a Source) and sends outbox messages (a Sink)."""
