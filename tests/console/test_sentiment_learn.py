"""The console's learn actions (issue 17): a handoff's sentiment relabelled from a select beside the intent relabel
in the inbox detail, stored as a `sentiment_label` correction through the audited CreatorActions; the lessons given
on the comment listed there, each with an undo (SQLite and PostgreSQL)."""

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


def test_a_lesson_given_in_the_inbox_is_listed_there_and_can_be_undone(any_world: ConsoleWorld) -> None:
    import aiohttp

    handoff_id = any_world.handoff("这课讲得太乱了")
    other = any_world.handoff("多少钱")
    other_lesson = any_world.store.relabel(_event_pk(any_world, other), "ask_price", "cli")

    async def teach() -> tuple[str, str, list[int]]:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # unsafe: cookies for 127.0.0.1
            await http.post(any_world.base + "/login", data={"name": OWNER, "password": OWNER_PASSWORD}, allow_redirects=False)
            page = await (await http.get(f"{any_world.base}/inbox/{handoff_id}")).text()
            token = page.split('name="csrf_token" value="')[1].split('"')[0]
            learn = f"{any_world.base}/inbox/{handoff_id}/learn"
            await http.post(learn, allow_redirects=False, data={"what": "relabel", "intent": "complaint", "csrf_token": token})
            taught = await (await http.get(f"{any_world.base}/inbox/{handoff_id}")).text()
            [lesson] = [c for c in any_world.store.corrections() if c.kind == "relabel" and c.id != other_lesson.id]
            statuses = []
            # another comment's lesson, nonsense, this comment's lesson, then the same again
            for correction in (str(other_lesson.id), "abc", str(lesson.id), str(lesson.id)):
                answer = await http.post(learn, allow_redirects=False, data={"what": "undo", "correction": correction, "csrf_token": token})
                statuses.append(answer.status)
            undone = await (await http.get(f"{any_world.base}/inbox/{handoff_id}")).text()
            return taught, undone, statuses

    taught, undone, statuses = any_world.run(teach())
    [lesson] = [c for c in any_world.store.corrections() if c.kind == "relabel" and c.id != other_lesson.id]
    assert f'id="undo-{lesson.id}"' in taught and "意图标为 投诉" in taught
    assert f'id="undo-{other_lesson.id}"' not in taught  # only this comment's lessons
    assert statuses == [302, 302, 302, 302]  # refusals come back to the page with their one-line error
    [undo] = [c for c in any_world.store.corrections() if c.kind == "undo"]
    assert undo.payload == {"correction_id": lesson.id, "kind": "relabel"} and undo.by == f"console:{OWNER}"
    assert [e.action for e in any_world.store.audit_log()].count("learn.undo") == 1
    assert f'id="undo-{lesson.id}"' not in undone and f"已撤销（#{undo.id}）" in undone


def _event_pk(world: ConsoleWorld, handoff_id: int) -> int:
    from bot.console.queries import inbox_item

    item = inbox_item(world.store, handoff_id)
    assert item is not None and item.event_pk is not None
    return item.event_pk
