"""infrastructure/local/template.py and stack.schedule_seconds: the pure helpers of the local stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from infrastructure.local.stack import schedule_seconds
from infrastructure.local.template import (
    TEMPLATE,
    Resolver,
    Unresolved,
    function_environment,
    http_routes,
    load_template,
    parameter_defaults,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> dict:
    return load_template(ROOT / "template.yaml")


@pytest.fixture
def resolver() -> Resolver:
    return Resolver(
        region="eu-west-1",
        account_id="123456789012",
        parameters={"Stage": "dev"},
        refs={"HttpApi": "abc123", "HelpdeskTable": "helpdesk-table"},
        attributes={("HelpdeskTable", "Arn"): "arn:aws:dynamodb:eu-west-1:123456789012:table/helpdesk-table"},
    )


# --- load_template ------------------------------------------------------------------------------


def test_the_default_template_is_the_repository_one() -> None:
    assert TEMPLATE == ROOT / "template.yaml"


def test_load_template_turns_short_tags_into_long_form(template: dict) -> None:
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert template["Resources"]["HttpApi"]["Type"] == "AWS::Serverless::HttpApi"
    assert template["Globals"]["Function"]["Environment"]["Variables"]["TABLE_NAME"] == {"Ref": "HelpdeskTable"}
    layer_name = template["Resources"]["SharedLayer"]["Properties"]["LayerName"]
    assert layer_name == {"Fn::Sub": "helpdesk-shared-${Stage}"}
    assert template["Outputs"]["ApiUrl"]["Value"] == {
        "Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}"
    }


def test_load_template_splits_scalar_getatt(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "Resources:\n"
        "  A:\n"
        "    Properties:\n"
        "      Arn: !GetAtt Queue.Arn\n"
        "      Long: !GetAtt [Queue, QueueName]\n"
        "      Joined: !Join [':', [a, !Ref B]]\n"
        "      Subbed: !Sub ['${X}-x', {X: !Ref C}]\n"
    )
    props = load_template(path)["Resources"]["A"]["Properties"]
    assert props["Arn"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert props["Long"] == {"Fn::GetAtt": ["Queue", "QueueName"]}
    assert props["Joined"] == {"Fn::Join": [":", ["a", {"Ref": "B"}]]}
    assert props["Subbed"] == {"Fn::Sub": ["${X}-x", {"X": {"Ref": "C"}}]}


def test_http_routes_of_the_template(template: dict) -> None:
    routes = {(r["method"], r["path"]): r for r in http_routes(template)}
    webhook = routes[("POST", "/webhooks/{tenant_id}/{channel}/{store_id}")]
    assert webhook["jwt"] is False
    assert webhook["function"] in template["Resources"]
    assert routes[("ANY", "/tickets")]["jwt"] is True
    assert routes[("ANY", "/tickets/{proxy+}")]["jwt"] is True
    assert routes[("ANY", "/tickets")]["function"] == routes[("ANY", "/tickets/{proxy+}")]["function"]
    assert routes[("GET", "/swagger")]["jwt"] is False
    for route in routes.values():
        assert template["Resources"][route["function"]]["Type"] == "AWS::Serverless::Function"


def test_http_routes_use_the_api_default_authorizer_unless_overridden() -> None:
    template = {
        "Resources": {
            "Api": {"Type": "AWS::Serverless::HttpApi", "Properties": {"Auth": {"DefaultAuthorizer": "Jwt"}}},
            "OpenApi": {"Type": "AWS::Serverless::HttpApi", "Properties": {}},
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Events": {
                        "A": {
                            "Type": "HttpApi",
                            "Properties": {"ApiId": {"Ref": "Api"}, "Path": "/a", "Method": "get"},
                        },
                        "B": {
                            "Type": "HttpApi",
                            "Properties": {
                                "ApiId": {"Ref": "Api"},
                                "Path": "/b",
                                "Method": "post",
                                "Auth": {"Authorizer": "NONE"},
                            },
                        },
                        "C": {
                            "Type": "HttpApi",
                            "Properties": {"ApiId": {"Ref": "OpenApi"}, "Path": "/c", "Method": "get"},
                        },
                        "Q": {"Type": "SQS", "Properties": {"Queue": {"Ref": "Q"}}},
                    }
                },
            },
        }
    }
    assert http_routes(template) == [
        {"function": "Fn", "method": "GET", "path": "/a", "jwt": True},
        {"function": "Fn", "method": "POST", "path": "/b", "jwt": False},
        {"function": "Fn", "method": "GET", "path": "/c", "jwt": False},
    ]


def test_parameter_defaults_and_overrides(template: dict) -> None:
    params = parameter_defaults(template, {"Stage": "local"})
    assert params["Stage"] == "local"
    assert params["LogRetentionDays"] == "30"


def test_function_environment_merges_globals_with_the_function(template: dict) -> None:
    own = {"Environment": {"Variables": {"EXTRA": "1", "POWERTOOLS_LOG_LEVEL": "DEBUG"}}}
    env = function_environment(template, own)
    assert env["TABLE_NAME"] == {"Ref": "HelpdeskTable"}
    assert env["EXTRA"] == "1"
    assert env["POWERTOOLS_LOG_LEVEL"] == "DEBUG"  # the function's own value wins


# --- Resolver -----------------------------------------------------------------------------------


def test_ref_resolves_pseudo_parameters_parameters_and_resources(resolver: Resolver) -> None:
    assert resolver.resolve({"Ref": "AWS::Region"}) == "eu-west-1"
    assert resolver.resolve({"Ref": "AWS::AccountId"}) == "123456789012"
    assert resolver.resolve({"Ref": "Stage"}) == "dev"
    assert resolver.resolve({"Ref": "HttpApi"}) == "abc123"


def test_getatt_resolves_known_attributes(resolver: Resolver) -> None:
    arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/helpdesk-table"
    assert resolver.resolve({"Fn::GetAtt": ["HelpdeskTable", "Arn"]}) == arn


def test_sub_resolves_pseudo_parameters_refs_and_attributes(resolver: Resolver) -> None:
    text = "arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${HttpApi}/${Stage}/${HelpdeskTable.Arn}"
    assert resolver.resolve({"Fn::Sub": text}) == (
        "arn:aws:x:eu-west-1:123456789012:abc123/dev/arn:aws:dynamodb:eu-west-1:123456789012:table/helpdesk-table"
    )
    assert resolver.resolve({"Fn::Sub": ["${Name}-${AWS::Region}", {"Name": {"Ref": "Stage"}}]}) == "dev-eu-west-1"


def test_the_template_outputs_resolve(template: dict, resolver: Resolver) -> None:
    outputs = template["Outputs"]
    assert resolver.resolve(outputs["ApiUrl"]["Value"]) == "https://abc123.execute-api.eu-west-1.amazonaws.com/dev"
    assert resolver.resolve(outputs["WebhookUrlPattern"]["Value"]) == (
        "https://abc123.execute-api.eu-west-1.amazonaws.com/dev/webhooks/{tenant_id}/{channel}/{store_id}"
    )


def test_resolve_walks_lists_and_mappings(resolver: Resolver) -> None:
    value = {
        "Env": {"TABLE": {"Ref": "HelpdeskTable"}, "N": 3},
        "List": [{"Ref": "Stage"}, "plain", {"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}],
    }
    assert resolver.resolve(value) == {"Env": {"TABLE": "helpdesk-table", "N": 3}, "List": ["dev", "plain", "a-dev"]}


@pytest.mark.parametrize(
    "value",
    [
        {"Ref": "NotCreatedYet"},
        {"Fn::GetAtt": ["HelpdeskTable", "StreamArn"]},
        {"Fn::GetAtt": ["Nope", "Arn"]},
        {"Fn::Sub": "${Missing}"},
        {"Fn::Sub": "${Missing.Arn}"},
        [{"Ref": "Stage"}, {"Ref": "Missing"}],
    ],
)
def test_unknown_names_are_unresolved(resolver: Resolver, value: object) -> None:
    with pytest.raises(Unresolved):
        resolver.resolve(value)


def test_resources_created_later_become_resolvable(resolver: Resolver) -> None:
    with pytest.raises(Unresolved):
        resolver.resolve({"Ref": "RawPayloadBucket"})
    resolver.refs["RawPayloadBucket"] = "raw-bucket"
    assert resolver.resolve({"Fn::Sub": "s3://${RawPayloadBucket}/raw"}) == "s3://raw-bucket/raw"


def test_sub_renders_the_literal_escape(resolver: Resolver) -> None:
    assert resolver.resolve({"Fn::Sub": "${!Literal}-${Stage}"}) == "${Literal}-dev"


# --- schedule_seconds ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(5 minutes)", 300),
        ("rate(1 minute)", 60),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        (" rate(10 minutes) ", 600),
    ],
)
def test_rate_expressions_become_seconds(expression: str, seconds: int) -> None:
    assert schedule_seconds(expression) == seconds


@pytest.mark.parametrize("expression", ["cron(0 12 * * ? *)", "rate(5 seconds)", "rate(minutes)", ""])
def test_other_schedules_have_no_fixed_period(expression: str) -> None:
    assert schedule_seconds(expression) is None
