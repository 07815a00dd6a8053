"""The creator's web console (docs/console.md): server-rendered pages on the same aiohttp app as the tracked links."""
