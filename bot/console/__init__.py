"""The creator's web console (docs/console.md): server-rendered pages (Jinja2, autoescaped) on the same aiohttp app as the tracked links."""
