"""The console shows each version's held-out score beside what it delivered on the batches it served."""

from __future__ import annotations

import re

import httpx

from driftgate.local.servers import ServerThread
from driftgate.serving.app import create_app
from tests.service.conftest import Registry


def test_versions_and_version_pages_show_held_out_beside_next_batch(explained: Registry) -> None:
    v2 = explained.client.get_model_version(explained.name, "2")
    held_out = explained.client.get_run(v2.run_id).data.metrics["test_roc_auc"]
    for batch, score in ((5, 0.8123), (6, 0.7456)):  # as the flow records them: step = batch number
        explained.client.log_metric(v2.run_id, "next_batch_roc_auc", score, step=batch)
    with ServerThread(create_app(explained.settings)) as srv:
        page = httpx.get(f"{srv.url}/reports/2")
        assert page.status_code == 200
        table = page.text.split('id="next-batch"', 1)[1].split("</table>", 1)[0]
        assert re.search(r'class="num heldout">([0-9.]+)<', table).group(1) == f"{held_out:.4g}"  # type: ignore[union-attr]
        assert re.findall(r'href="/console/timeline#batch-(\d+)"', table) == ["5", "6"]
        assert re.findall(r'class="num next-batch">([0-9.]+)<', table) == ["0.8123", "0.7456"]
        listing = httpx.get(f"{srv.url}/reports").text
        row = listing.split('data-version="2"', 1)[1].split("</tr>", 1)[0]
        assert 'class="num next-batch">0.7456<' in row  # the newest batch it served
        one = httpx.get(f"{srv.url}/reports/1").text
        assert "not scored on a later batch yet" in one
