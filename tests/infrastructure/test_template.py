"""template.yaml and the state machines, checked offline."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk.adapters import keys
from helpdesk.platform.config import Settings
from infrastructure.local.template import ROOT, load_template

pytestmark = pytest.mark.infra
TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]


def of_type(kind: str) -> dict[str, dict]:
    return {name: res for name, res in RESOURCES.items() if res["Type"] == kind}


def test_cfn_lint_passes_offline() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), str(ROOT / "template.yaml")], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_layer_is_one_package_built_for_python312() -> None:
    layers = of_type("AWS::Serverless::LayerVersion")
    layer = layers["SharedLayer"]
    assert layer["Properties"]["ContentUri"] == "shared/"
    assert all(other["Metadata"]["BuildMethod"] == "python3.12" for other in layers.values())
    packages = [p.name for p in (ROOT / "shared").iterdir() if p.is_dir() and not p.name.startswith((".", "__"))]
    modules = [p.name for p in (ROOT / "shared").glob("*.py")]
    assert packages == ["helpdesk"] and modules == []


def test_the_language_models_ship_only_with_the_intake() -> None:
    """lingua is ~96 MB unzipped: its own layer, on the one function that detects languages."""
    assert "lingua" not in (ROOT / "shared/requirements.txt").read_text()
    assert "lingua-language-detector" in (ROOT / "layers/language/requirements.txt").read_text()
    users = [
        name
        for name, fn in of_type("AWS::Serverless::Function").items()
        if {"Ref": "LanguageLayer"} in fn["Properties"].get("Layers", [])
    ]
    assert users == ["IntakeFunction"]
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert "lingua-language-detector==2.1.1" in dev, "make run / make test need it too"


@pytest.mark.parametrize("name", sorted(of_type("AWS::Serverless::Function")))
def test_every_function_handler_exists(name: str) -> None:
    props = RESOURCES[name]["Properties"]
    module_file, attribute = props["Handler"].rsplit(".", 1)
    path = ROOT / props["CodeUri"] / f"{module_file}.py"
    assert path.exists(), path
    module = importlib.import_module(f"{props['CodeUri'].strip('/').replace('/', '.')}.{module_file}")
    assert callable(getattr(module, attribute))


@pytest.mark.parametrize("name", sorted(of_type("AWS::Serverless::Function")))
def test_every_function_has_its_own_scoped_policies(name: str) -> None:
    policies = RESOURCES[name]["Properties"].get("Policies")
    assert policies, f"{name} has no policies"
    for policy in policies:
        assert isinstance(policy, dict), f"{name}: managed policy {policy!r} is not scoped"
        for statement in policy.get("Statement", []):
            if statement["Resource"] == "*":
                # Amazon Translate's TranslateText has no resource to scope to (only terminologies).
                assert statement["Action"] == ["translate:TranslateText"], f"{name}: statement on every resource"
            assert "*" not in statement["Action"], f"{name}: every action allowed"


def test_function_environment_matches_settings() -> None:
    settings_fields = {f.upper() for f in Settings.model_fields}
    for name, res in of_type("AWS::Serverless::Function").items():
        own = set(res["Properties"].get("Environment", {}).get("Variables", {}))
        assert own <= settings_fields, f"{name} sets variables the code does not read: {own - settings_fields}"


def test_work_queues_have_dead_letter_queues() -> None:
    queues = of_type("AWS::SQS::Queue")
    dlqs = {
        res["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for res in queues.values()
        if "RedrivePolicy" in res["Properties"]
    }
    # Failure destinations of stream event sources are dead-letter queues too.
    for function in of_type("AWS::Serverless::Function").values():
        for event in function["Properties"].get("Events", {}).values():
            destination = event.get("Properties", {}).get("DestinationConfig", {}).get("OnFailure", {})
            if destination.get("Type") == "SQS":
                dlqs.add(destination["Destination"]["Fn::GetAtt"][0])
    work_queues = set(queues) - dlqs
    assert work_queues and dlqs
    for name in work_queues:
        assert "RedrivePolicy" in queues[name]["Properties"], f"{name} has no dead-letter queue"


def test_table_indexes_match_the_repository() -> None:
    table = RESOURCES["HelpdeskTable"]["Properties"]
    names = {gsi["IndexName"] for gsi in table["GlobalSecondaryIndexes"]}
    assert names == {
        keys.TENANT_QUEUE,
        keys.TEAM_QUEUE,
        keys.AGENT_QUEUE,
        keys.LOOKUP,
        keys.STATUS_INDEX,
        keys.SNOOZED,
        keys.OUTBOX,
    }
    assert table["BillingMode"] == "PAY_PER_REQUEST"


def test_http_routes_authorize_agents_and_leave_webhooks_to_signatures() -> None:
    api = RESOURCES["HttpApi"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "AgentJwt"
    webhook = RESOURCES["WebhookFunction"]["Properties"]["Events"]["Webhook"]["Properties"]
    assert webhook["Auth"]["Authorizer"] == "NONE"
    for event in RESOURCES["AgentApiFunction"]["Properties"]["Events"].values():
        if event["Properties"]["Path"] == "/swagger":  # the API's documentation, nothing of a tenant's
            continue
        assert "Auth" not in event["Properties"], "agent routes must keep the JWT authorizer"


# --- state machines ---------------------------------------------------------------------------

STATE_MACHINES = of_type("AWS::Serverless::StateMachine")


def _asl(name: str) -> tuple[dict, str]:
    path = ROOT / STATE_MACHINES[name]["Properties"]["DefinitionUri"]
    text = path.read_text()
    return json.loads(text), text


@pytest.mark.parametrize("name", sorted(STATE_MACHINES))
def test_every_placeholder_has_a_substitution(name: str) -> None:
    _, text = _asl(name)
    placeholders = set(re.findall(r"\$\{(\w+)\}", text))
    substitutions = set(STATE_MACHINES[name]["Properties"].get("DefinitionSubstitutions", {}))
    assert placeholders, "expected the ASL to be parameterised"
    assert placeholders == substitutions


def _all_states(states: dict) -> dict:
    found = dict(states)
    for state in states.values():
        for branch in state.get("Branches", []):
            found.update(_all_states(branch["States"]))
        if "Iterator" in state or "ItemProcessor" in state:
            found.update(_all_states((state.get("ItemProcessor") or state["Iterator"])["States"]))
    return found


@pytest.mark.parametrize("name", sorted(STATE_MACHINES))
def test_every_transition_target_exists_and_every_state_is_reachable(name: str) -> None:
    asl, _ = _asl(name)
    states = asl["States"]
    assert asl["StartAt"] in states
    edges: dict[str, set[str]] = {}
    for state_name, state in states.items():
        targets = set()
        if "Next" in state:
            targets.add(state["Next"])
        if "Default" in state:
            targets.add(state["Default"])
        for choice in state.get("Choices", []):
            targets.add(choice["Next"])
        for catch in state.get("Catch", []):
            targets.add(catch["Next"])
        missing = targets - set(states)
        assert not missing, f"{state_name} points at missing states {missing}"
        terminal = state.get("End") or state["Type"] in ("Succeed", "Fail", "Choice")
        assert targets or terminal, f"{state_name} goes nowhere"
        edges[state_name] = targets
    seen, todo = set(), [asl["StartAt"]]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(edges[current])
    assert seen == set(states), f"unreachable: {set(states) - seen}"


@pytest.mark.parametrize("name", sorted(STATE_MACHINES))
def test_task_states_retry_and_catch(name: str) -> None:
    asl, _ = _asl(name)
    for state_name, state in _all_states(asl["States"]).items():
        if state["Type"] == "Task":
            assert state.get("Retry"), f"{state_name} has no Retry"
            assert state.get("Catch"), f"{state_name} has no Catch"


def test_sla_timer_is_a_standard_machine_with_scoped_policy() -> None:
    props = STATE_MACHINES["SlaTimerStateMachine"]["Properties"]
    assert props["Type"] == "STANDARD"  # waits of hours/days: Express stops after 5 minutes
    actions = {a for s in props["Policies"][0]["Statement"] for a in s["Action"]}
    assert actions == {"dynamodb:GetItem", "dynamodb:UpdateItem", "sqs:SendMessage"}


def test_samconfig_exists_for_one_command_deploy() -> None:
    text = (ROOT / "samconfig.toml").read_text()
    assert "[default.deploy.parameters]" in text and "CAPABILITY_IAM" in text


def test_paths_in_template_exist() -> None:
    for res in RESOURCES.values():
        props = res.get("Properties", {})
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(props.get(key), str):
                assert Path(ROOT / props[key]).exists(), props[key]
