"""Each function's IAM policy, and the state machine's, as the CDK app synthesizes them, for the
local stack's roles.

The CDK app is the only source: `python -m local_stack.iam_policies --write` synthesizes it (with
the local stack's configuration, `local_config`) and writes every function role's statements to
iam_policies.json, with each CloudFormation reference replaced by the construct path it names
(`{"Local": "AuditTable", "Attribute": "Arn"}`). The local stack reads that file and resolves the
paths to its own resources (`resolve`).

Why a generated file rather than a synthesis at every start: synthesis runs node through jsii for
tens of seconds, and the local stack starts in every end-to-end test module, in the demo and on
machines without node. tests/infra/test_iam_policies.py synthesizes again and fails when the
file differs from what the app makes now, naming the command that rewrites it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

POLICIES_FILE = Path(__file__).with_name("iam_policies.json")
# What the local stack deploys under the CDK app's configuration: its seeded world's names
# (local_stack/world.py) and the source region of StackOptions.
LOCAL_SOURCE_REGION = "eu-west-1"
LOCAL_SUBNET_GROUP = "aurora-restore-local"
# The targets the demo and the tests restore into (as a deployment lists its own).
LOCAL_TARGET_PATTERNS = [
    "staging-*",
    "dev-*",
    "rehearsal-*",
    "fresh-*",
    "dr-*",
    "throttled-*",
    "race-*",
    "fuzz-*",
    "outage-*",
    "secrets-*",
    "twice-*",
    "rate-*",
    "failing-*",
]
LOCAL_SNAPSHOT_PATTERNS = ["prod-*", "rds:prod-*", "dr-*"]
STATE_MACHINE_NAME_TOKEN = "${LocalStateMachineName}"  # noqa: S105 - a name, not a secret
# The snapshot-copy key of the local configuration (rds.kms_key_arn): a placeholder the policies
# name as the stack's data key, which the local stack creates and gives the pipeline.
LOCAL_SNAPSHOT_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/local-snapshot-copies"


_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


def local_config() -> Any:
    """The example configuration with the local stack's names (see the constants above)."""
    from infra.config import EXAMPLE_CONFIG, load_config

    config = load_config(EXAMPLE_CONFIG)
    rds = config.rds.model_copy(
        update={
            "target_cluster_patterns": LOCAL_TARGET_PATTERNS,
            "snapshot_patterns": LOCAL_SNAPSHOT_PATTERNS,
            "source_regions": [LOCAL_SOURCE_REGION],
            "kms_key_arn": LOCAL_SNAPSHOT_KEY_ARN,
        }
    )
    network = config.network.model_copy(update={"db_subnet_group_name": LOCAL_SUBNET_GROUP})
    return config.model_copy(update={"rds": rds, "network": network})


STATE_MACHINE = "RestoreStateMachine"  # the key of the state machine's role (its construct id)


def extract(stack: Any, template: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Function construct id (and STATE_MACHINE) -> the statements of its role, references as
    construct paths."""
    from infra.constants import ALL_FUNCTIONS

    paths = _paths_by_logical_id(stack)
    resources = template["Resources"]
    role_ids: dict[str, str] = {}
    for spec in ALL_FUNCTIONS:
        function_id = stack.resolve(stack.get_logical_id(stack.functions[spec].node.default_child))
        role_ids[spec.construct_id] = resources[function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    machine_id = stack.resolve(stack.get_logical_id(stack.state_machine.node.default_child))
    role_ids[STATE_MACHINE] = resources[machine_id]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    policies: dict[str, list[dict[str, Any]]] = {}
    for key, role_id in role_ids.items():
        statements = _role_statements(resources, role_id)
        symbolic = _symbolize(statements, paths, stack.state_machine_name)
        policies[key] = sorted(symbolic, key=lambda s: json.dumps(s, sort_keys=True))
    return policies


def _role_statements(resources: Mapping[str, Any], role_id: str) -> list[dict[str, Any]]:
    role = resources[role_id]["Properties"]
    if role.get("ManagedPolicyArns"):
        raise ValueError(f"{role_id}: managed policies are not copied to the local stack")
    statements = [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    for resource in resources.values():
        # Policies attached to the role (CDK's default policy, and the overflow managed policies
        # it splits a role's statements into past IAM's size limit) name it in their Roles.
        attached = resource["Properties"].get("Roles", []) if "Properties" in resource else []
        if resource["Type"] in _POLICY_TYPES and {"Ref": role_id} in attached:
            statements.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _paths_by_logical_id(stack: Any) -> dict[str, str]:
    from aws_cdk import CfnElement

    prefix = stack.node.path + "/"
    return {
        stack.resolve(stack.get_logical_id(construct)): construct.node.path.removeprefix(prefix)
        for construct in stack.node.find_all()
        if isinstance(construct, CfnElement)
    }


def _symbolize(value: Any, paths: Mapping[str, str], state_machine_name: str) -> Any:
    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            if set(item) == {"Ref"} and not str(item["Ref"]).startswith("AWS::"):
                return {"Local": paths[item["Ref"]], "Attribute": "Ref"}
            if set(item) == {"Fn::GetAtt"}:
                logical_id, attribute = item["Fn::GetAtt"]
                return {"Local": paths[logical_id], "Attribute": attribute}
            return {key: walk(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [walk(inner) for inner in item]
        if item == LOCAL_SNAPSHOT_KEY_ARN:
            return {"Local": "DataKey/Resource", "Attribute": "Arn"}
        if isinstance(item, str):
            return item.replace(state_machine_name, STATE_MACHINE_NAME_TOKEN)
        return item

    return walk(value)


def synthesize() -> dict[str, list[dict[str, Any]]]:
    """Synthesize the CDK app with the local configuration (tens of seconds: node and jsii)."""
    import tempfile

    from aws_cdk.assertions import Template

    from infra.app import build_cdk_app

    with tempfile.TemporaryDirectory(prefix="aurora-restore-iam-") as outdir:
        _, stack = build_cdk_app(local_config(), outdir=outdir)
        template = Template.from_stack(stack).to_json()
        return extract(stack, template)


def policies_text(policies: Mapping[str, Any]) -> str:
    return json.dumps(policies, indent=1, sort_keys=True) + "\n"


POLICIES_ENV = "AURORA_RESTORE_IAM_POLICIES"  # another file (make iam-mutation's mutants)


def load() -> dict[str, list[dict[str, Any]]]:
    path = Path(os.environ.get(POLICIES_ENV) or POLICIES_FILE)
    loaded: dict[str, list[dict[str, Any]]] = json.loads(path.read_text("utf-8"))
    return loaded


# Resolution: what each construct path is in the local stack.
Lookup = Callable[[str, str], str | None]  # (construct path, attribute) -> value, or None


def resolve(value: Any, lookup: Lookup, pseudo: Mapping[str, str]) -> Any:
    """Resolve Ref, Fn::GetAtt, Fn::Join, Fn::Sub and Fn::Select/Fn::Split to plain strings.
    A path the local stack does not have resolves to an ARN nothing has: its grant allows
    nothing, which is stricter than AWS, never more lenient."""

    def walk(item: Any) -> Any:
        if isinstance(item, list):
            return [walk(inner) for inner in item]
        if isinstance(item, str):
            return _substitute(item, pseudo)
        if not isinstance(item, dict):
            return item
        if "Local" in item:
            found = lookup(str(item["Local"]), str(item["Attribute"]))
            return found if found is not None else f"arn:aws:local:::unresolved/{item['Local']}"
        if set(item) == {"Ref"}:
            return pseudo[str(item["Ref"])]
        if set(item) == {"Fn::Join"}:
            separator, parts = item["Fn::Join"]
            return str(separator).join(str(walk(part)) for part in parts)
        if set(item) == {"Fn::Sub"}:
            argument = item["Fn::Sub"]
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            extra = {name: str(walk(inner)) for name, inner in variables.items()}
            return _substitute(str(text), {**pseudo, **extra})
        if set(item) == {"Fn::Select"}:
            index, items = item["Fn::Select"]
            return walk(items)[int(index)]
        if set(item) == {"Fn::Split"}:
            separator, text = item["Fn::Split"]
            return str(walk(text)).split(str(separator))
        return {key: walk(inner) for key, inner in item.items()}

    return walk(value)


def _substitute(text: str, variables: Mapping[str, str]) -> str:
    for name, replacement in variables.items():
        text = text.replace("${" + name + "}", replacement)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {POLICIES_FILE.name}")
    args = parser.parse_args(argv)
    text = policies_text(synthesize())
    if args.write:
        POLICIES_FILE.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
