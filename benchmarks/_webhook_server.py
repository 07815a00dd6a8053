"""The bot side of benchmarks/webhook.py: `coursebot run --platform douyin` (dry run) in a process of its own.

Runs whatever `bot` package PYTHONPATH points at (this checkout, or the baseline commit's tree), configured by
COURSEBOT_* variables set by the benchmark; prints the webhook's base URL as one JSON line once it listens and
stops cleanly on SIGTERM. The whole bot runs, analysis and decisions included, as in production: what the
acknowledgement competes with for the two cores is part of the measurement.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from bot.adapters.serve import serve_adapters
from bot.config import load_settings


async def main(config: Path) -> None:
    settings = load_settings(config)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await serve_adapters(settings, ["douyin"], stop=stop, ready=lambda urls: print(json.dumps(urls), flush=True))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
