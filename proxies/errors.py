"""Errors raised at the seam to remote assistant APIs.

BackendError                      anything the remote side or the transport did wrong
├── BackendConnectionError        no answer: refused, reset, DNS, dropped mid-response
│   └── BackendTimeoutError       the request took longer than the client allows
├── BackendResponseError          an answer the SDK could not parse or validate
└── BackendStatusError            an HTTP error status (`status_code`, `code`, `request_id`)
    ├── BackendBadRequestError    400, e.g. the thread is locked by an active run
    ├── BackendAuthenticationError  401
    ├── BackendPermissionError    403
    ├── BackendNotFoundError      404
    ├── BackendConflictError      409
    ├── BackendUnprocessableError 422
    ├── BackendRateLimitError     429
    └── BackendServerError        5xx

Every backend raises only these, `from` the SDK exception they translate, so nothing above
`proxies/backends/` ever needs to import `openai`.
"""

from __future__ import annotations

from mediator.errors import ToolkitError


class BackendError(ToolkitError):
    """The remote API call did not succeed."""

    #: True when trying the same read again later may succeed.
    retryable: bool = False
    #: True when the server may have acted on the request although it did not say so (the
    #: reply was lost, or it failed on its side): look at what exists before trying again.
    ambiguous: bool = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: The request that failed (``POST /v1/responses``), when known.
        self.request: str | None = None
        #: How long the server asked to wait before trying again, in seconds.
        self.retry_after_s: float | None = None
        self.status_code = status_code
        self.code = code
        self.request_id = request_id


class BackendConnectionError(BackendError):
    retryable = True
    ambiguous = True


class BackendTimeoutError(BackendConnectionError):
    pass


class BackendResponseError(BackendError):
    pass


class BackendStatusError(BackendError):
    pass


class BackendBadRequestError(BackendStatusError):
    pass


class BackendAuthenticationError(BackendStatusError):
    pass


class BackendPermissionError(BackendStatusError):
    pass


class BackendNotFoundError(BackendStatusError):
    pass


class BackendConflictError(BackendStatusError):
    retryable = True


class BackendUnprocessableError(BackendStatusError):
    pass


class BackendRateLimitError(BackendStatusError):
    retryable = True


class BackendServerError(BackendStatusError):
    retryable = True
    ambiguous = True
