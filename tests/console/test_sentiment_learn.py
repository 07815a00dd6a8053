"""The console's learn action relabels a handoff's sentiment (issue 17): a select beside the intent relabel in the
inbox detail, stored as a `sentiment_label` correction through the audited CreatorActions (SQLite and PostgreSQL)."""

from __future__ import annotations

from console_helpers import OWNER, OWNER_PASSWORD, ConsoleWorld


def test_the_inbox_detail_relabels_a_comments_sentiment(any_world: ConsoleWorld) -> None:
    import aiohttp

    handoff_id = any_world.handoff("看完更糊涂了")

    async def teach() -> tuple[str, list[int]]:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # unsafe: cookies for 127.0.0.1
            await http.post(any_world.base + "/login", data={"name": OWNER, "password": OWNER_PASSWORD}, allow_redirects=False)
            page = await (await http.get(f"{any_world.base}/inbox/{handoff_id}")).text()
            token = page.split('name="csrf_token" value="')[1].split('"')[0]
            statuses = []
            for sentiment in ("negative", "angry"):
                answer = await http.post(f"{any_world.base}/inbox/{handoff_id}/learn", allow_redirects=False,
                                         data={"what": "sentiment", "sentiment": sentiment, "csrf_token": token})
                statuses.append(answer.status)
            return page, statuses

    page, statuses = any_world.run(teach())
    assert 'name="sentiment"' in page and 'value="sentiment"' in page
    assert statuses == [302, 302]  # the refused one comes back to the page with its one-line error
    [correction] = any_world.store.corrections()
    assert (correction.kind, correction.payload, correction.by) == ("sentiment_label", {"sentiment": "negative"}, f"console:{OWNER}")
    assert [e.action for e in any_world.store.audit_log()].count("learn.relabel_sentiment") == 1
