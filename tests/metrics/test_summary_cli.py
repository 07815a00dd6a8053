"""`coursebot summary`, `coursebot conversions import` and `coursebot summaries run --once` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from metrics_seed import seed_shanghai_day
from PIL import Image

from bot.store.engine import make_engine
from bot.store.migrate import upgrade


@pytest.fixture
def seeded_db(tmp_path: Path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'coursebot.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seed_shanghai_day(engine)
    engine.dispose()
    return {"COURSEBOT_STORE__URL": url, "COURSEBOT_STATE_DIR": str(tmp_path / "state")}


def test_summary_command_prints_json_and_writes_the_chart(cli, seeded_db, tmp_path: Path) -> None:
    chart = tmp_path / "out.png"
    result = cli("summary", "--date", "2024-06-01", "--format", "json", "--chart", str(chart), "--group-questions-by", "keywords",
                 env=seeded_db)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["day"], data["volume"]["total"], data["performance"]["reply_rate"]) == ("2024-06-01", 7, 0.6)
    assert Image.open(chart).format == "PNG"


def test_summary_command_text_in_another_zone_and_bad_date(cli, seeded_db) -> None:
    text = cli("summary", "--date", "2024-05-31", "--tz", "America/New_York", "--group-questions-by", "keywords", env=seeded_db)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("coursebot 每日总结 · 2024-05-31（America/New_York）")
    bad = cli("summary", "--date", "June 1", env=seeded_db)
    assert bad.returncode == 2 and "expected YYYY-MM-DD" in bad.stderr and "Traceback" not in bad.stderr


def test_conversions_import_then_scheduled_run_writes_files_once(cli, seeded_db, tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,amount,link_id,occurred_at\nZ1,59,L2,2024-06-01 18:00:00\n", encoding="utf-8")
    imported = cli("conversions", "import", "--input", str(orders), env=seeded_db)
    assert imported.returncode == 0, imported.stderr
    assert "1 recorded, 0 already known" in imported.stdout
    again = cli("conversions", "import", "--input", str(orders), env=seeded_db)
    assert "0 recorded, 1 already known" in again.stdout

    env = seeded_db | {"COURSEBOT_SUMMARY__CHART": "false"}
    first = cli("summaries", "run", "--once", "--group-questions-by", "keywords", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""  # the first start ever does not send the past
