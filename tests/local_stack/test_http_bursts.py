"""The local stack's HTTP servers take a burst of simultaneous connections as the services they
stand in for do (local_stack/http_server.py): none is reset or refused."""

from __future__ import annotations

import json
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from local_stack.slack_emulator import SlackEmulator

BURST = 150


def test_a_burst_of_simultaneous_requests_is_answered_in_full() -> None:
    with SlackEmulator() as slack:
        url = f"{slack.api_url}auth.test"
        ready = threading.Barrier(BURST)

        def call(_: int) -> int:
            request = urllib.request.Request(
                url,
                data=b"",
                headers={"Authorization": f"Bearer {slack.bot_token}"},
                method="POST",
            )
            ready.wait()
            with urllib.request.urlopen(request, timeout=30) as reply:
                return int(json.loads(reply.read())["ok"])

        with ThreadPoolExecutor(max_workers=BURST) as pool:
            answers = list(pool.map(call, range(BURST)))
    assert answers == [1] * BURST
