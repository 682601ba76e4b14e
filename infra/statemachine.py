"""Facts read from the one ASL file the CDK app deploys and the local stack runs."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pipeline

ASL_PATH = Path(pipeline.__file__).resolve().parent / "statemachine" / "restore.asl.json"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


@cache
def definition() -> dict[str, Any]:
    return dict(json.loads(ASL_PATH.read_text(encoding="utf-8")))


def placeholders() -> set[str]:
    """Every `${Name}` in the definition: each must get a DefinitionSubstitution."""
    return set(_PLACEHOLDER.findall(ASL_PATH.read_text(encoding="utf-8")))
