"""What routes share: the served collections, the limits, the reranker, the auth."""

from fastapi import Request

from .hosting import Collections, Hosted
from .limits import Limits


def served(request: Request) -> Collections:
    return request.app.state.collections


def hosted(request: Request, name: str) -> Hosted:
    return request.app.state.collections.get(name)


def limits(request: Request) -> Limits:
    return request.app.state.limits
