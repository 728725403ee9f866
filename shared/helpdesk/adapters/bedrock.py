"""Amazon Bedrock as the drafter: the Converse API (``bedrock-runtime``), any model that takes messages.

``BedrockDrafter`` sends the prompt ``helpdesk.replies.draft_prompt.build_prompt`` makes (the system prompt as one
text block, the thread as alternating user/assistant turns, the facts in the last user turn) and
returns the text blocks of the answer as a ``Draft`` for the agent. It never sends anything.

Every failure is ``DraftUnavailable``: an AWS error by its code (throttling, a model not ready or timing
out, service unavailable: retryable; access not granted to the model, a refused request, an unknown
model: not), an answer withheld by a content filter or guardrail, an empty answer. The reason names the
AWS error code only, never the error message (it may carry ARNs or account ids). botocore's own retries
(the client's retry config) have already run by then. An answer cut at ``max_tokens`` is still a draft,
with a note saying so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError

from helpdesk.core.models import Draft
from helpdesk.replies.draft_prompt import build_prompt
from helpdesk.replies.drafting import DraftContext, DraftUnavailable, missing_facts

SOURCE = "bedrock"
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "ModelTimeoutException",
        "ModelNotReadyException",
        "InternalServerException",
    }
)
# What each known code means for the agent who asked for a draft; any other code is named as it came.
REASONS = {
    "ThrottlingException": "Bedrock is throttling requests: try again in a moment",
    "ServiceUnavailableException": "Bedrock is unavailable right now: try again in a moment",
    "ModelTimeoutException": "the model took too long to answer: try again",
    "ModelNotReadyException": "the model is not ready yet: try again in a moment",
    "InternalServerException": "Bedrock failed: try again in a moment",
    "AccessDeniedException": "this AWS account has no access to the model: enable model access in the Bedrock "
    "console and allow bedrock:InvokeModel",
    "ValidationException": "Bedrock refused the request: check the model id and that the model takes a system prompt",
    "ResourceNotFoundException": "the configured model does not exist in this region",
}
WITHHELD = frozenset({"content_filtered", "guardrail_intervened"})
UNUSABLE = frozenset({"malformed_model_output", "model_context_window_exceeded"})
CUT_SHORT_NOTE = "the model stopped at its length limit: the draft may be cut short, finish it before sending"


class BedrockDrafter:
    name = SOURCE

    def __init__(self, client: Any, model_id: str, max_tokens: int = 600, temperature: float = 0.2) -> None:
        self._client = client
        self._model_id = model_id
        self._max_tokens = max_tokens
        self._temperature = temperature

    def draft(self, context: DraftContext, now: datetime) -> Draft:
        if not self._model_id:
            raise DraftUnavailable("no Bedrock model is configured (BedrockModelId)", code="NotConfigured")
        system, messages = build_prompt(context)
        answer = self._converse(system, messages)
        stop = str(answer.get("stopReason") or "")
        if stop in WITHHELD:
            raise DraftUnavailable(f"Bedrock withheld the draft ({stop})", code=stop)
        if stop in UNUSABLE:
            raise DraftUnavailable(f"the model gave no usable draft ({stop})", code=stop)
        content = ((answer.get("output") or {}).get("message") or {}).get("content") or []
        body = "\n".join(block["text"] for block in content if isinstance(block.get("text"), str)).strip()
        if not body:
            raise DraftUnavailable("the model returned an empty draft", code=stop or None)
        missing = missing_facts(context)
        notes = [CUT_SHORT_NOTE] if stop == "max_tokens" else []
        if missing:
            notes.append(f"the order data has no {', '.join(missing)}: check the draft before sending")
        return Draft(
            body=body,
            language=context.language,
            source=SOURCE,
            model=self._model_id,
            missing=missing,
            note="; ".join(notes) or None,
            created_at=now,
        )

    def _converse(self, system: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        try:
            return dict(
                self._client.converse(
                    modelId=self._model_id,
                    system=[{"text": system}],
                    messages=messages,
                    inferenceConfig={"maxTokens": self._max_tokens, "temperature": self._temperature},
                )
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code") or "UnknownError")
            reason = REASONS.get(code, "Bedrock refused the request")
            raise DraftUnavailable(f"{reason} ({code})", retryable=code in RETRYABLE_CODES, code=code) from exc
        except (BotoConnectionError, HTTPClientError) as exc:  # endpoint unreachable, timeouts, dropped connection
            raise DraftUnavailable(
                f"Bedrock could not be reached ({type(exc).__name__})", retryable=True, code=type(exc).__name__
            ) from exc
        except NoCredentialsError as exc:
            raise DraftUnavailable(
                "Bedrock is not set up: the function has no AWS credentials", code="NoCredentials"
            ) from exc
        except BotoCoreError as exc:
            raise DraftUnavailable(f"the Bedrock call failed ({type(exc).__name__})", code=type(exc).__name__) from exc
