"""Alerts for the creator (logged out, captcha) reach the Telegram admins through a (fake) Bot API."""

from __future__ import annotations

import logging
import time

import pytest
from aiohttp import web

from bot.adapters.alerts import creator_alert, log_alert

TOKEN = "123456:alert-test-token"


async def test_alerts_are_dmed_to_every_telegram_admin_and_logged(settings_factory, unused_tcp_port: int,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    sent: list[dict] = []

    async def send_message(request: web.Request) -> web.Response:
        data = dict(await request.post()) if request.content_type != "application/json" else await request.json()
        sent.append({"path": request.path, **{k: str(v) for k, v in data.items()}})
        return web.json_response({"ok": True, "result": {
            "message_id": len(sent), "date": int(time.time()), "chat": {"id": int(data["chat_id"]), "type": "private"},
            "text": str(data["text"])}})

    app = web.Application()
    app.router.add_post(f"/bot{TOKEN}/sendMessage", send_message)
    runner = web.AppRunner(app, access_log=None)  # the fake's own access log would show the URL (and token)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    settings = settings_factory(telegram={"token": TOKEN, "admin_ids": [111, 222],
                                          "api_base": f"http://127.0.0.1:{unused_tcp_port}"})
    try:
        with caplog.at_level(logging.DEBUG):
            await creator_alert(settings)("Bilibili: a captcha is required")
    finally:
        await runner.cleanup()
    assert [s["chat_id"] for s in sent] == ["111", "222"]
    assert all("Bilibili: a captcha is required" in s["text"] for s in sent)
    assert "a captcha is required" in caplog.text and TOKEN not in caplog.text


def test_without_a_telegram_bot_alerts_are_only_logged(settings_factory) -> None:
    assert creator_alert(settings_factory()) is log_alert
