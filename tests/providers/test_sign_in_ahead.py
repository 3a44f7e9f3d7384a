"""The ARM token requested ahead (while the SDK module loads) replaces the first request, never adds one."""

from __future__ import annotations

import threading
import time

import pytest
from azure.core.credentials import AccessTokenInfo
from azure.core.exceptions import ClientAuthenticationError

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.errors import AuthError
from genaiops_cli.providers.azure.clients import _SignInCredential

TARGET = AzureTarget("sandbox", "https://arm.test", "sub", client_id="sp-1")
SCOPE = "https://management.azure.com/.default"


class CountingCredential:
    """Our own stand-in for an azure-identity credential: counts token requests, keeps no cache
    (as the Azure CLI credential does), and can be made slow or failing."""

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.calls: list[tuple[tuple[str, ...], object]] = []
        self.delay, self.fail = delay, fail
        self.lock = threading.Lock()

    def get_token_info(self, *scopes: str, options: object = None) -> AccessTokenInfo:
        with self.lock:
            self.calls.append((scopes, options))
        time.sleep(self.delay)
        if self.fail:
            raise ClientAuthenticationError("AADSTS7000215: Invalid client secret provided.")
        return AccessTokenInfo(f"token-{len(self.calls)}", int(time.time()) + 3600)

    def get_token(self, *scopes: str, **kwargs: object) -> object:
        raise AssertionError("the wrapper asks get_token_info")


def test_the_first_plain_request_takes_the_token_fetched_ahead() -> None:
    inner = CountingCredential(delay=0.05)
    cred = _SignInCredential(inner, TARGET)
    cred.sign_in_ahead(SCOPE)
    cred.sign_in_ahead(SCOPE)  # asked twice (two SDK clients): still one request
    token = cred.get_token_info(SCOPE)  # waits for the request in flight instead of sending another
    assert token.token == "token-1"
    assert len(inner.calls) == 1
    legacy = _SignInCredential(CountingCredential(), TARGET)
    legacy.sign_in_ahead(SCOPE)
    assert legacy.get_token(SCOPE).token == "token-1"  # the AccessToken shape for get_token callers


def test_later_or_different_requests_go_to_the_credential() -> None:
    inner = CountingCredential()
    cred = _SignInCredential(inner, TARGET)
    cred.sign_in_ahead(SCOPE)
    cred.get_token_info(SCOPE)
    cred.get_token_info(SCOPE, options={"claims": '{"access_token":{}}'})  # a claims challenge
    cred.get_token_info("https://other/.default")
    cred.get_token_info(SCOPE)  # used once: later ones ask the credential (its cache, if it has one)
    assert [c[0][0] for c in inner.calls] == [SCOPE, SCOPE, "https://other/.default", SCOPE]


def test_a_failed_sign_in_ahead_is_reported_by_the_request_that_needed_it() -> None:
    inner = CountingCredential(fail=True)
    cred = _SignInCredential(inner, TARGET)
    cred.sign_in_ahead(SCOPE)
    with pytest.raises(AuthError, match="cannot sign in to sandbox as sp-1: AADSTS7000215"):
        cred.get_token_info(SCOPE)
    assert len(inner.calls) == 1, "the failure is not hidden by a silent second attempt"
