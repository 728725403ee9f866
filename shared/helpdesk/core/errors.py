"""Domain errors. Adapters raise them; handlers turn them into HTTP answers or retries."""

from __future__ import annotations


class HelpdeskError(Exception):
    """Base of every domain error. ``code`` is the machine-readable code clients see."""

    code = "error"
    status = 500

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(HelpdeskError):
    code = "not_found"
    status = 404


class InvalidSignature(HelpdeskError):
    code = "invalid_signature"
    status = 401


class MalformedPayload(HelpdeskError):
    code = "malformed_payload"
    status = 400


class Unauthorized(HelpdeskError):
    code = "unauthorized"
    status = 401


class Forbidden(HelpdeskError):
    code = "forbidden"
    status = 403


class Conflict(HelpdeskError):
    """A concurrent change won; the caller may re-read and retry."""

    code = "conflict"
    status = 409


class DuplicateMessage(HelpdeskError):
    """The channel delivered a message we already stored (same channel message id)."""

    code = "duplicate"
    status = 200


class InvalidCursor(HelpdeskError):
    code = "invalid_cursor"
    status = 400


class ChannelError(HelpdeskError):
    """A channel's API failed or could not be reached (after retries)."""

    code = "channel_error"
    status = 502


class ChannelRateLimited(ChannelError):
    """A channel kept answering 429 after retries; try again later."""

    code = "channel_rate_limited"
    status = 503
