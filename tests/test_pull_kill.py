"""The pull SIGKILLed again and again (real `kycdesk sync` processes, a real server):
after each kill the store is consistent — no case lost, none applied twice, the token
where the held set is. The ≥ 200-kill run is benchmarks/pull_kill_loop.py."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from kycdesk.paths import DataPaths
from kycdesk.persistence.store import LocalStore
from tests.fieldlink import LinkProfile, field_link
from tests.sync_support import REPO_ROOT, TOKEN, ServerHandle
from tests.tablets import (
    TEST_PIN,
    signed_in_args,
    vault_for,
    verifier_paths,  # noqa: F401  (the `paths` fixture)
)
from tests.two_way_support import check_pull_state, lab_device_id, pull_kill_loop


def test_sigkilled_pulls_lose_nothing_apply_nothing_twice_and_keep_the_token_true(
        qapp: object, server: ServerHandle, paths: DataPaths, tmp_path: Path) -> None:
    with LocalStore(paths, vault=vault_for(paths)):
        pass
    with field_link(urlsplit(server.base_url).port or 0,
                    LinkProfile(rate_bps=150_000, latency_s=0.03)) as link:
        result = pull_kill_loop(server, paths, TOKEN, kills=6, rng=random.Random(3),
                                link=link, batch=100)
    assert result.kills == 6
    assert result.mid_page >= 1, "no kill came after a page was applied"
    final = subprocess.run(
        [sys.executable, "-m", "kycdesk", "sync", "--once", "--now", *signed_in_args(paths),
         "--server", server.base_url, "--token", TOKEN],
        capture_output=True, text=True, input=f"{TEST_PIN}\n", cwd=REPO_ROOT, timeout=300,
        check=False)
    assert final.returncode == 0, final.stdout + final.stderr
    device = lab_device_id(TOKEN)
    seq = check_pull_state(server, device, paths)
    [(last,)] = server.query("SELECT max(feed_seq) FROM assignments WHERE device_id = ?",
                             (device,))
    assert seq == last
