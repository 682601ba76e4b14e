"""The Slack app manifest asks only for what the bot uses; App Home lists the user's restores."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from bot.deps import BotDependencies
from local_stack.slack_emulator import SlackEmulator
from pipeline.models import RestoreRequest
from tests.bot.conftest import REQUESTER, SIGNING_SECRET, SlackHttp, sign

MANIFEST = yaml.safe_load((Path(__file__).parents[2] / "manifest.yaml").read_text())


def test_manifest_declares_the_command_interactivity_and_minimal_scopes() -> None:
    assert [c["command"] for c in MANIFEST["features"]["slash_commands"]] == ["/restore"]
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    assert MANIFEST["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert sorted(MANIFEST["oauth_config"]["scopes"]["bot"]) == [
        "chat:write",
        "commands",
        "usergroups:read",
    ]
    assert MANIFEST["display_information"]["name"] and MANIFEST["_metadata"]["major_version"] == 1
    # The requester's DM (the outcome, when the card's channel refuses it) needs chat:write and
    # the App Home messages tab, read-only: nobody writes to the app.
    app_home = MANIFEST["features"]["app_home"]
    assert app_home["messages_tab_enabled"] and app_home["messages_tab_read_only_enabled"]


def test_app_home_lists_the_users_restores(
    slack_http: SlackHttp, deps: BotDependencies, slack_world: SlackEmulator
) -> None:
    deps.store.create(
        "ar-20260101000000-aaaaaa",
        RestoreRequest(snapshot="snap", target_cluster="home-db", requester=REQUESTER),
    )
    body = json.dumps(
        {
            "token": "legacy",
            "team_id": "T0LOCAL",
            "api_app_id": "A0LOCALAPP",
            "type": "event_callback",
            "event_id": "Ev1",
            "event_time": 1,
            "event": {"type": "app_home_opened", "user": REQUESTER, "channel": "D1", "tab": "home"},
        }
    )
    headers = {**sign(body), "content-type": "application/json"}
    assert slack_http.send(body, headers).status == 200
    slack_world.wait_for(lambda: slack_world.home_view(REQUESTER) is not None)
    assert "home-db" in json.dumps(slack_world.home_view(REQUESTER))
    assert SIGNING_SECRET not in json.dumps(slack_world.calls)
