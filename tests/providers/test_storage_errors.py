"""How a storage or Foundry data-plane failure that outlived the SDK's retries reaches the user:
exit 6 with a re-run hint (a failed transfer, resumable), exit 4 for a refusal — never exit 1
(`internal_error` means a bug). The exceptions are azure-core's own, as the SDK raises them."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError

from genaiops_cli.errors import ExitCode, GenAIOpsError
from genaiops_cli.providers.azure import batch_eval, blob_datasets, foundry_datasets


def _status(status: int, code: str = "") -> HttpResponseError:
    exc = HttpResponseError(message=f"HTTP {status}")
    exc.status_code, exc.error_code = status, code or None
    return exc


def _raised(guard, exc: BaseException) -> GenAIOpsError:
    with pytest.raises(GenAIOpsError) as err, guard:
        raise exc
    return err.value


GUARDS = {
    "blob dataset read": lambda: blob_datasets._errors("download qa@v1"),
    "batch results read": lambda: batch_eval._denied("read batch results"),
}


@pytest.mark.parametrize("where", GUARDS)
@pytest.mark.parametrize("exc", [_status(503, "ServerBusy"), _status(429), ServiceRequestError("refused")])
def test_storage_failing_past_the_retries_is_exit_6_with_a_rerun_hint(where, exc):
    err = _raised(GUARDS[where](), exc)
    assert (err.exit_code, err.code) == (ExitCode.BUILD, "storage_failed")
    assert "re-run" in (err.hint or "")


@pytest.mark.parametrize("where", GUARDS)
def test_a_refused_storage_request_is_exit_4(where):
    assert (
        _raised(GUARDS[where](), _status(403, "AuthorizationPermissionMismatch")).exit_code == ExitCode.AUTH
    )


def test_a_foundry_dataset_read_failing_past_the_retries_is_exit_6_with_a_rerun_hint():
    err = _raised(foundry_datasets._errors("list the project's datasets"), _status(503))
    assert (err.exit_code, err.code) == (ExitCode.BUILD, "foundry_datasets_failed")
    assert "re-run" in (err.hint or "")
    assert _raised(foundry_datasets._errors("list"), _status(403)).exit_code == ExitCode.AUTH
