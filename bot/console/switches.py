"""开关 (/switches, owner only): pause/resume, dry run, per-platform replies, quiet hours — the same run-time
switches as `coursebot pause|resume|switches …` and the Telegram /pause, /resume (bot/actions.py). Also the
audit log (/audit, owner only)."""

from __future__ import annotations

from aiohttp import web

from bot.actions import PLATFORMS, ActionRefused
from bot.console.base import ACTIONS, SETTINGS, STORE, by, call, redirect, render, requires


@requires("owner")
async def page(request: web.Request) -> web.StreamResponse:
    switches = await call(request.app[STORE].switches)
    policy = request.app[SETTINGS].policy
    config_quiet = policy.quiet_hours
    return render(request, "switches.html", s=switches, platforms=PLATFORMS, config_dry_run=policy.dry_run,
                  config_quiet=(f"{config_quiet.start}–{config_quiet.end}（{config_quiet.mode}）" if config_quiet.start and config_quiet.end
                                else "无"), timezone=policy.timezone)


@requires("owner")
async def change(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    actions, who, what = request.app[ACTIONS], by(request), str(form.get("what", ""))
    try:
        if what == "pause":
            await call(actions.pause, who)
            message = "已暂停：机器人不再发送任何回复"
        elif what == "resume":
            await call(actions.resume, who)
            message = "已恢复自动回复"
        elif what == "dry_run":
            value = str(form.get("value", ""))
            if value == "config":
                await call(actions.use_config, "dry_run", who)
            else:
                await call(actions.set_dry_run, value == "on", who)
            message = "试运行设置已更新"
        elif what == "platform":
            await call(actions.set_platform, str(form.get("platform", "")), form.get("value") == "on", who)
            message = "平台开关已更新"
        elif what == "quiet_hours":
            if form.get("value") == "config":
                await call(actions.use_config, "quiet_hours", who)
            else:
                await call(actions.set_quiet_hours, str(form.get("start", "")), str(form.get("end", "")),
                           str(form.get("mode", "defer")), who)
            message = "免打扰时段已更新"
        else:
            raise ActionRefused(f"unknown switch {what!r}")
    except ActionRefused as exc:
        raise redirect("/switches", f"未完成：{exc}") from None
    raise redirect("/switches", message)


@requires("owner")
async def audit(request: web.Request) -> web.StreamResponse:
    rows = await call(request.app[STORE].audit_log, 200)
    return render(request, "audit.html", rows=rows)


def setup(app: web.Application) -> None:
    app.router.add_get("/switches", page)
    app.router.add_post("/switches", change)
    app.router.add_get("/audit", audit)
