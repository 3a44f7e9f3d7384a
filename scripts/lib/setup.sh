# Shared set-up for scripts/test and scripts/quickstart. Sourced, not run.
# Idempotent: every step checks before it acts, so a second run costs seconds.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${GENAIOPS_VENV:-$REPO_ROOT/.venv}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "genaiops needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

# Debian packages the sandbox and tests use: a Docker engine, the CNCF registry, skopeo (benchmark peer),
# shellcheck (generated pipelines' scripts).
ensure_system_packages() {
  local missing=()
  if ! command -v dockerd >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
    missing+=(docker.io)  # no engine binary and no reachable engine
  fi
  command -v docker-registry >/dev/null 2>&1 || command -v registry >/dev/null 2>&1 || missing+=(docker-registry)
  command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)  # actionlint checks run: steps with it
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 &&
     ! compgen -G "/var/lib/apt/lists/*_Packages" >/dev/null; then
    say "refreshing the Debian package lists (the offline base image is assembled from .debs)"
    apt-get update -qq >/dev/null
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing: ${missing[*]} — install them (Debian/Ubuntu: sudo apt-get install ${missing[*]})" >&2
    return 1
  fi
}

# ensure_venv EXTRAS [standin]: genaiops with EXTRAS ("" for none), plus the stand-in distribution
# (./sandbox) when asked. Re-installs only when a pyproject or the request changed.
ensure_venv() {
  local python stamp want extras="$1" with_standin="${2:-}" spec
  python="$(find_python)"
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtualenv $VENV"
    "$python" -m venv "$VENV" 2>/dev/null || {
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get install -y -qq python3-venv >/dev/null && "$python" -m venv "$VENV"
      else
        echo "cannot create a virtualenv: install python3-venv" >&2; return 1
      fi
    }
  fi
  stamp="$VENV/.genaiops-install"
  want="$(cat "$REPO_ROOT/pyproject.toml" "$REPO_ROOT/sandbox/pyproject.toml" | sha256sum | cut -d' ' -f1)-$extras-$with_standin"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    spec="$REPO_ROOT"
    [ -n "$extras" ] && spec="$REPO_ROOT[$extras]"
    local args=(-e "$spec")
    [ -n "$with_standin" ] && args+=(-e "$REPO_ROOT/sandbox")
    say "installing genaiops${extras:+[$extras]}${with_standin:+ and the stand-in} into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${args[@]}" 2>&1 \
      | grep -v -e '^WARNING: Location' -e 'is ignored: it is neither' >&2 || true
    "$VENV/bin/python" -c 'import genaiops_cli' || { echo "installation failed" >&2; return 1; }
    if [ -n "$with_standin" ]; then
      "$VENV/bin/python" -c 'import genaiops_sandbox' || { echo "stand-in installation failed" >&2; return 1; }
    fi
    echo "$want" > "$stamp"
  fi
}
