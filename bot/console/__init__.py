"""The creator's web console: pages on the aiohttp app, server-rendered with Jinja2 (autoescaped)."""
