"""Credential and SDK client factories for one AzureTarget. Cached per target: a command builds
each client once, and the token cache of the credential is shared by all of them."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.errors import AuthError

if TYPE_CHECKING:
    from azure.containerregistry import ContainerRegistryClient
    from azure.core.credentials import TokenCredential
    from azure.mgmt.appcontainers import ContainerAppsAPIClient
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient
    from azure.mgmt.resource.resources import ResourceManagementClient


def _transport_kwargs(target: AzureTarget) -> dict[str, Any]:
    return {"connection_verify": target.verify}


SIGN_IN_WAYS = (
    "sign in with `az login` (or `azd auth login`), or run with a workload identity "
    "(AZURE_FEDERATED_TOKEN_FILE), a managed identity, or a service principal "
    "(AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET)"
)


class NotSignedIn(AuthError):
    code = "not_signed_in"


class _SignInCredential:
    """The credential every client uses, so that failing to get a token at all reads as what it is
    ("not signed in", exit 4) instead of azure-identity's multi-line report or "not authorised"."""

    def __init__(self, inner: Any, target: AzureTarget) -> None:
        self._inner = inner
        self._target = target
        self._ahead: dict[str, tuple[Any, list[Any]]] = {}  # scope → (done event, [token or exception])

    def sign_in_ahead(self, scope: str) -> None:
        """Request a token for `scope` on a thread now: it travels while the caller imports the SDK
        module it is about to use (50–100 ms each), so a command's first ARM request does not wait
        for the sign-in's round trips after that import. The first plain request for the scope takes
        this token (or its failure): no second token request, not even with credentials that keep no
        cache of their own (the Azure CLI's)."""
        import threading

        if scope in self._ahead:
            return
        done, outcome = threading.Event(), [None]

        def fetch() -> None:
            try:
                outcome[0] = self._inner.get_token_info(scope)
            except Exception as exc:  # handed to the caller, who reports it as usual
                outcome[0] = exc
            finally:
                done.set()

        self._ahead[scope] = (done, outcome)
        threading.Thread(target=fetch, name="sign-in-ahead", daemon=True).start()

    def _fetched_ahead(self, scopes: tuple[str, ...], plain: bool) -> Any:
        if not plain or len(scopes) != 1 or scopes[0] not in self._ahead:
            return None
        done, outcome = self._ahead[scopes[0]]
        done.wait()
        found, outcome[0] = outcome[0], None  # used once; later calls go to the credential's cache
        if isinstance(found, Exception):
            raise found
        return found

    def _failed(self, exc: Exception) -> AuthError:
        first = (str(getattr(exc, "message", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
        if self._target.client_id:  # a configured service principal (the stand-in, CI): its own reason
            return AuthError(
                f"cannot sign in to {self._target.cloud} as {self._target.client_id}: {first}",
                hint="check the service principal's secret, tenant and authority",
            )
        return NotSignedIn(
            f"not signed in to Azure: {SIGN_IN_WAYS}",
            hint="re-run with -v to see what each way of signing in reported",
            details={"credentials": str(exc)},
        )

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.exceptions import ClientAuthenticationError

        try:
            ahead = self._fetched_ahead(scopes, not kwargs)
            if ahead is not None:
                from azure.core.credentials import AccessToken

                return AccessToken(ahead.token, ahead.expires_on)
            return self._inner.get_token(*scopes, **kwargs)
        except ClientAuthenticationError as exc:  # CredentialUnavailableError is one too
            raise self._failed(exc) from exc

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        from azure.core.exceptions import ClientAuthenticationError

        try:
            ahead = self._fetched_ahead(scopes, not options)
            if ahead is not None:
                return ahead
            return self._inner.get_token_info(*scopes, options=options)
        except ClientAuthenticationError as exc:
            raise self._failed(exc) from exc

    def close(self) -> None:
        self._inner.close()

    def __enter__(self) -> _SignInCredential:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_CREDENTIAL_LOCK = threading.Lock()


def storage_retry() -> Any:
    """Retry pace for dataset and batch blobs: the same four attempts as the storage SDK's default,
    but its waits (18 s, 24 s, then 42 s) keep a CLI silent for 84 s before it can report a failing
    account; these wait ≈ 2, 4 and 6 s, then the command ends with its re-runnable error."""
    from azure.storage.blob import ExponentialRetry

    return ExponentialRetry(initial_backoff=2, increment_base=2, retry_total=3, random_jitter_range=1)


def credential(target: AzureTarget) -> TokenCredential:
    """One credential per target per process, also when two threads build their first clients at
    once (lru_cache alone is not atomic: both would build one and sign in twice)."""
    with _CREDENTIAL_LOCK:
        return _credential(target)


@lru_cache(maxsize=8)
def _credential(target: AzureTarget) -> TokenCredential:
    return _SignInCredential(_identity_credential(target), target)  # type: ignore[return-value]


def _identity_credential(target: AzureTarget) -> Any:
    if target.client_id and target.client_secret_file and target.tenant_id:
        from pathlib import Path

        from azure.identity import ClientSecretCredential

        secret = Path(target.client_secret_file).read_text().strip()
        extra: dict[str, Any] = _persistent_cache(secret)
        if target.authority_host:
            extra |= {"authority": target.authority_host, "disable_instance_discovery": True}
        return ClientSecretCredential(
            target.tenant_id,
            target.client_id,
            secret,
            **extra,
            **_transport_kwargs(target),
        )
    from azure.identity import DefaultAzureCredential

    authority = {"authority": target.authority_host} if target.authority_host else {}
    import os

    cache = _persistent_cache(os.environ.get("AZURE_CLIENT_SECRET", ""))  # EnvironmentCredential's
    return DefaultAzureCredential(**authority, **cache, **_transport_kwargs(target))


def _persistent_cache(secret: str) -> dict[str, Any]:
    """Entra tokens kept between processes (providers/token_cache.py), one file per secret: a fresh
    process whose token is still valid makes no token request. Credentials that keep their own
    cache (the Azure CLI's, azd's) ignore it; GENAIOPS_TOKEN_CACHE=0 leaves every credential with
    its in-memory cache."""
    from genaiops_cli.providers import token_cache

    options = token_cache.entra_persistence(token_cache.fingerprint(secret) if secret else "")
    return {"cache_persistence_options": options} if options is not None else {}


def _sandbox_poll_pace() -> Any:
    """The stand-in sends Azure's Retry-After (1 s, an integer) so stock clients run at full speed;
    azure-core prefers it over `polling_interval`. Against our own stand-in, genaiops drops it from
    LRO answers so its pollers use the profile's `poll_seconds` (a 429's or 503's Retry-After is
    left alone; the SDKs parse the header as an integer, so it cannot be rewritten to 0.2)."""

    def hook(response: Any) -> None:
        http = response.http_response
        if http.status_code in (200, 201, 202) and "Retry-After" in http.headers:
            del http.headers["Retry-After"]

    return hook


def sign_in_ahead(target: AzureTarget) -> None:
    """Start the ARM token request before an ARM SDK import (see _SignInCredential.sign_in_ahead)."""
    credential(target).sign_in_ahead(target.arm_scope)  # type: ignore[attr-defined]


def arm_client(client_class: Any, target: AzureTarget) -> Any:
    """Any azure-mgmt-* client for `target`: same credential, endpoint, CA and polling everywhere."""
    extra: dict[str, Any] = {}
    if target.cloud == "sandbox":
        extra["raw_response_hook"] = _sandbox_poll_pace()
    return client_class(
        credential(target),
        target.subscription_id,
        base_url=target.arm_endpoint,
        credential_scopes=[target.arm_scope],
        polling_interval=target.poll_seconds,
        **extra,
        **_transport_kwargs(target),
    )


@lru_cache(maxsize=8)
def container_apps(target: AzureTarget) -> ContainerAppsAPIClient:
    sign_in_ahead(target)
    from azure.mgmt.appcontainers import ContainerAppsAPIClient

    return arm_client(ContainerAppsAPIClient, target)


@lru_cache(maxsize=8)
def registry_management(target: AzureTarget) -> ContainerRegistryManagementClient:
    sign_in_ahead(target)
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient

    return arm_client(ContainerRegistryManagementClient, target)


@lru_cache(maxsize=16)
def registry_data(target: AzureTarget, login_server: str) -> ContainerRegistryClient:
    from azure.containerregistry import ContainerRegistryClient

    return ContainerRegistryClient(
        f"https://{login_server}",
        credential(target),
        audience=target.acr_audience,
        **_transport_kwargs(target),
    )


@lru_cache(maxsize=8)
def deployments(target: AzureTarget) -> DeploymentsMgmtClient:
    """Microsoft.Resources deployments (azure-mgmt-resource-deployments, api-version 2026-06-01)."""
    sign_in_ahead(target)
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    return arm_client(DeploymentsMgmtClient, target)


@lru_cache(maxsize=8)
def resource_groups(target: AzureTarget) -> ResourceManagementClient:
    """Resource groups (azure-mgmt-resource: deployments moved to their own package)."""
    sign_in_ahead(target)
    from azure.mgmt.resource.resources import ResourceManagementClient

    return arm_client(ResourceManagementClient, target)
