"""What a finished `build` tells the no-op stamp recorder (fast_build.py), without importing it.

The build command calls `noop(...)` when every image it was asked for was already up to date
locally; it does nothing unless the launcher is recording this run. Standard library only, and no
import of genaiops: commands/ may call it without reaching past its layer."""

from __future__ import annotations

# Set to {} by the launcher while it records a build; filled by noop(); read after the run.
NOTE: dict | None = None


def noop(
    images: list[tuple[str, str]], git: list[tuple[str, str | None]], base_dir: str, records: list[str]
) -> None:
    """images: (reference, engine image id) of every service; git: (context dir, HEAD commit or
    None) as the build saw them; base_dir: the project directory; records: the build record files
    the run wrote (core/records.py)."""
    if NOTE is not None:
        NOTE.update(images=images, git=git, base_dir=base_dir, records=records)
