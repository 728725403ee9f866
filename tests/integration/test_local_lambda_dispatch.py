"""moto cannot run Lambda code without Docker; the local stack routes Lambda invokes (boto3 and
Step Functions Lambda tasks) to the project's own handlers in-process."""

from __future__ import annotations

import json
import time

from infrastructure.local.stack import LocalStack
from tests.integration.conftest import Seller, agent_event


def test_boto3_invoke_runs_the_real_handler(stack: LocalStack, seller: Seller) -> None:
    name = stack.functions["AgentApiFunction"].name
    event = agent_event("GET", "/tickets", "/tickets", tenant_id=seller.tenant_id)
    response = stack.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event))
    result = json.loads(response["Payload"].read())
    assert result["statusCode"] == 200
    assert json.loads(result["body"]) == {"tickets": [], "next_cursor": None}


def test_step_functions_lambda_task_runs_the_real_handler(stack: LocalStack, seller: Seller) -> None:
    function_arn = stack.resolver.attributes[("AgentApiFunction", "Arn")]
    definition = {
        "StartAt": "CallApi",
        "States": {
            "CallApi": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
                "ResultSelector": {"status.$": "$.Payload.statusCode"},
                "End": True,
            }
        },
    }
    sfn = stack.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"dispatch-{seller.tenant_id}",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/local",
    )["stateMachineArn"]
    event = agent_event("GET", "/tickets", "/tickets", tenant_id=seller.tenant_id)
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(event))["executionArn"]
    for _ in range(100):
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            break
        time.sleep(0.1)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"status": 200}
