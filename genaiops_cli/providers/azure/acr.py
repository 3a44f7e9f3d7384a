"""Azure Container Registry: login-server lookup, the Entra → ACR token exchange, manifest reads.

No admin user and no password in the manifest: the registry credential is a short-lived ACR refresh
token obtained from the caller's Entra token, exactly as `az acr login` does."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.errors import AuthError, BuildError
from genaiops_cli.providers import lookup_cache, token_cache
from genaiops_cli.providers.azure import clients

# `docker login` convention for ACR refresh tokens.
ACR_TOKEN_USER = "00000000-0000-0000-0000-000000000000"


def is_login_server(registry: str) -> bool:
    return "." in registry or ":" in registry


def login_server(target: AzureTarget, resource_group: str, registry: str) -> str:
    """`registry` is either a login server already or a registry resource name in the group. Each
    lookup through ARM is remembered for `cached_login_server`."""
    if is_login_server(registry):
        return registry
    server = _login_server_from_arm(target, resource_group, registry)
    lookup_cache.put(login_server_cache_key(target, resource_group, registry), server)
    return server


def cached_login_server(target: AzureTarget, resource_group: str, registry: str) -> str | None:
    """The login server an earlier ARM lookup found, or None: no sign-in, no call."""
    return lookup_cache.get(login_server_cache_key(target, resource_group, registry))


def login_server_cache_key(target: AzureTarget, resource_group: str, registry: str) -> str:
    """A login server never changes while its registry exists: cached per ARM endpoint, subscription,
    group and name (providers/lookup_cache.py)."""
    return lookup_cache.key(
        "acr-login-server", target.arm_endpoint, target.subscription_id, resource_group, registry
    )


def _login_server_from_arm(target: AzureTarget, resource_group: str, registry: str) -> str:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

    try:
        found = clients.registry_management(target).registries.get(resource_group, registry)
    except ResourceNotFoundError as exc:
        raise BuildError(
            f"registry {registry!r} not found in resource group {resource_group!r}",
            hint="provision the environment first (`genaiops provision`) or fix `registry:` in the manifest",
        ) from exc
    except ClientAuthenticationError as exc:
        raise AuthError(
            f"not signed in to Azure for registry {registry!r}: {exc.message}",
            hint="sign in (`az login`) or check the service principal",
        ) from exc
    except HttpResponseError as exc:
        raise BuildError(f"could not read registry {registry!r}: {exc.message}") from exc
    if not found.login_server:
        raise BuildError(
            f"registry {registry!r} has no login server yet", hint="wait for provisioning to finish"
        )
    return str(found.login_server)


def token_identity(target: AzureTarget) -> str | None:
    """Whom this process's ACR tokens belong to, for the token cache's key: the configured service
    principal (authority, tenant, client id and its secret's fingerprint: known without a request),
    else the tenant and object id in the Entra token the exchange sends. None: unknown, so no ACR
    token is cached."""
    if target.client_id and target.tenant_id and target.client_secret_file:
        from pathlib import Path

        try:
            secret = token_cache.fingerprint(Path(target.client_secret_file).read_text().strip())
        except OSError:
            return None  # the sign-in reports the missing secret
        who = ("sp", target.authority_host or target.cloud, target.tenant_id, target.client_id, secret)
        return "|".join(who)
    return _signed_in_identity(target)


@lru_cache(maxsize=8)
def _signed_in_identity(target: AzureTarget) -> str | None:
    try:
        claims = token_cache.jwt_claims(_entra_token(target).token)
    except Exception:  # the exchange reports a failed sign-in in its own words
        return None
    who = claims.get("oid") or claims.get("appid") or claims.get("sub")
    tenant = claims.get("tid")
    return "|".join(("user", target.cloud, str(tenant), str(who))) if who and tenant else None


_ENTRA_TOKENS: dict[AzureTarget, Any] = {}


def _entra_token(target: AzureTarget) -> Any:
    """The Entra token the exchange sends, kept for this process while it has 5 min left: the Azure
    CLI's credential keeps no cache of its own (each call runs `az`), and the identity for the token
    cache's key and the exchange both need it."""
    import time

    held = _ENTRA_TOKENS.get(target)
    if held is None or held.expires_on - time.time() < 300:
        held = _ENTRA_TOKENS[target] = clients.credential(target).get_token(target.arm_scope)
    return held


def token_key(target: AzureTarget, server: str, what: str) -> str | None:
    """The token cache's key for `what` ("refresh" or an access scope) at `server`, or None when the
    cache is off or the identity is unknown."""
    if not token_cache.enabled():
        return None
    identity = token_identity(target)
    return token_cache.acr_key(server, identity, what) if identity else None


def refresh_token(target: AzureTarget, server: str, *, fresh: bool = False) -> str:
    """An ACR refresh token (usable as a docker password): from the token cache while it has more than
    REFRESH_MARGIN left, else exchanged for an Entra access token (`fresh`: always exchanged)."""
    key = token_key(target, server, "refresh")
    if key and not fresh and (cached := token_cache.acr_get(key, token_cache.REFRESH_MARGIN)):
        return cached
    token = _exchange(target, server)
    if key:
        token_cache.acr_put(key, token)
    return token


def forget_refresh_token(target: AzureTarget, server: str) -> None:
    if key := token_key(target, server, "refresh"):
        token_cache.acr_forget(key)


def _exchange(target: AzureTarget, server: str) -> str:
    """Exchange an Entra access token for an ACR refresh token (usable as a docker password)."""
    import httpx
    from azure.core.exceptions import ClientAuthenticationError

    try:
        aad = _entra_token(target)
    except ClientAuthenticationError as exc:
        who = target.client_id or "the signed-in identity"
        raise AuthError(
            f"cannot sign in to Azure as {who} for registry {server}",
            hint="check `az login` / the service principal's secret, tenant and authority",
        ) from exc
    form: dict[str, Any] = {"grant_type": "access_token", "service": server, "access_token": aad.token}
    if target.tenant_id:
        form["tenant"] = target.tenant_id
    from genaiops_cli.providers.azure.registry_raw import retried

    try:  # retried like every registry request (429/5xx/dropped connection)
        response = retried(
            lambda: httpx.post(
                f"https://{server}/oauth2/exchange", data=form, verify=target.verify, timeout=30
            ),
            server,
        )
    except httpx.HTTPError as exc:
        raise BuildError(
            f"registry {server} unreachable: {exc}", hint="check the registry name and network"
        ) from exc
    if response.status_code in (401, 403):
        raise AuthError(
            f"registry {server} refused the identity {target.client_id or 'of the signed-in user'}",
            hint="grant AcrPush on the registry to this identity",
        )
    if response.status_code != 200:
        raise BuildError(
            f"registry {server} token exchange failed: HTTP {response.status_code}",
            hint="the registry refused or failed the sign-in; nothing was changed — re-run to continue",
        )
    token = response.json().get("refresh_token")
    if not token:
        raise BuildError(f"registry {server} returned no refresh token")
    return str(token)


def manifest_digest(target: AzureTarget, server: str, repository: str, tag: str) -> str | None:
    """The digest a tag points at in the registry, or None when the tag does not exist."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

    try:
        props = clients.registry_data(target, server).get_manifest_properties(repository, tag)
    except ResourceNotFoundError:
        return None
    except ClientAuthenticationError as exc:
        raise AuthError(
            f"registry {server} refused to read {repository}:{tag}",
            hint="grant AcrPull/AcrPush on the registry to this identity",
        ) from exc
    except HttpResponseError as exc:
        if exc.status_code == 404:
            return None
        raise BuildError(f"registry {server}: cannot read {repository}:{tag}: {exc.message}") from exc
    return str(props.digest)
