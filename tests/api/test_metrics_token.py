"""`/metrics` behind a bearer token (PAYOUTD_METRICS_TOKEN): when the token is set, a
scrape without it, or with another, is 401 and shows no metric."""

from __future__ import annotations

from pathlib import Path

from tests import support

TOKEN = "scrape-2f1c9d7e"


async def test_metrics_needs_the_token_when_one_is_set(
    tmp_path: Path, sqlite_template: Path
) -> None:
    support.copy_template(sqlite_template, tmp_path)
    settings = support.test_settings(tmp_path, None, metrics_token=TOKEN)
    async with support.harness(settings) as h:
        m = await h.merchant(BTC="1")
        refused = [
            await h.client.get("/metrics"),
            await h.client.get("/metrics", headers={"Authorization": "Bearer wrong"}),
            await h.client.get("/metrics", headers={"Authorization": TOKEN}),
            await h.client.get("/metrics", headers=m.headers),  # an API key is not it
            await h.client.get("/metrics", headers=h.admin),
        ]
        for r in refused:
            assert r.status_code == 401, r.text
            assert r.json()["error"]["code"] == "unauthorized"
            assert "payoutd_" not in r.text
        ok = await h.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and "payoutd_" in ok.text, ok.text


async def test_metrics_is_open_without_a_token(tmp_path: Path, sqlite_template: Path) -> None:
    support.copy_template(sqlite_template, tmp_path)
    async with support.harness(support.test_settings(tmp_path, None)) as h:
        r = await h.client.get("/metrics")
        assert r.status_code == 200 and "payoutd_" in r.text
