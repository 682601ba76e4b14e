"""Where the CDK app finds the one ASL file it deploys and the local stack runs.

Reading the definition (its `${...}` placeholders, timeouts, retry budgets) is
pipeline.statemachine's.
"""

from __future__ import annotations

from pathlib import Path

import pipeline

ASL_PATH = Path(pipeline.__file__).resolve().parent / "statemachine" / "restore.asl.json"
