"""The errors a route raises to answer with a status and a stable code (errors.py turns
them into JSON). Apart from errors.py so that limits.py, which the `--workers`
supervisor imports, does not load FastAPI."""

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "limit_exceeded", 422: "invalid_request", 500: "internal",
         503: "busy"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code or CODES[status], headers


class LimitExceeded(ApiError):
    """A configured limit was hit: 413 for the body size, 422 for the others."""

    def __init__(self, limit: str, message: str, status: int = 422):
        super().__init__(status, f"{message} (limit {limit})", "limit_exceeded")
        self.limit = limit
