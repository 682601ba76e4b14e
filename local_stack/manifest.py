"""What the Slack app manifest (manifest.yaml) tells the emulated Slack, so the local stack's
workspace runs the app as Slack would run it installed from that manifest."""

from __future__ import annotations

from pathlib import Path

import yaml

MANIFEST = Path(__file__).resolve().parents[1] / "manifest.yaml"


def messages_tab_enabled(path: Path = MANIFEST) -> bool:
    """features.app_home.messages_tab_enabled: whether the app may write to a user's DM."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    app_home = (document.get("features") or {}).get("app_home") or {}
    return bool(app_home.get("messages_tab_enabled", False))
