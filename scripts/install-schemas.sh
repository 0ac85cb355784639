#!/usr/bin/env bash
# Installs the JSON schemas that test/unit/deploy-files.test.ts validates docker-compose.yml and k8s/ against, into
# the git-ignored folder .tools/schemas/. Both come from pinned PyPI packages (wheels checked against their sha256):
#   - kubernetes-validate: the official Kubernetes OpenAPI schemas converted to JSON Schema (draft 2020-12), one folder
#     per Kubernetes version; only the "local-strict" flavour (additionalProperties: false everywhere) of the versions
#     in K8S_VERSIONS is kept -> .tools/schemas/kubernetes/<version>-local-strict/
#   - docker-compose (v1, the Compose project's own package): compose/config/compose_spec.json, the Compose
#     Specification JSON schema (draft 2019-09) -> .tools/schemas/compose/compose_spec.json
# Idempotent: does nothing when the same versions are already installed. Needs python3 with pip. The tests never
# download anything; run this once before them (CI does too).
set -euo pipefail
cd "$(dirname "$0")/.."

KUBERNETES_VALIDATE_VERSION="1.37.0"
KUBERNETES_VALIDATE_SHA256="85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9"
DOCKER_COMPOSE_VERSION="1.29.2"
DOCKER_COMPOSE_SHA256="8d5589373b35c8d3b1c8c1182c6e4a4ff14bffa3dd0b605fcd08f73c94cef809"
# Kubernetes versions the manifests are validated against: the oldest one we support and the newest in the package.
K8S_VERSIONS="v1.30.0 v1.37.0"

TARGET=".tools/schemas"
STAMP="$TARGET/INSTALLED"
WANT="kubernetes-validate==$KUBERNETES_VALIDATE_VERSION docker-compose==$DOCKER_COMPOSE_VERSION k8s=$K8S_VERSIONS"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  echo "schemas: already installed in $TARGET ($WANT)"
  exit 0
fi

PY="$(command -v python3 || command -v python || true)"
[ -n "$PY" ] || { echo "install-schemas: python3 with pip is needed to fetch the schema packages" >&2; exit 1; }

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cat >"$TMP/requirements.txt" <<EOF
kubernetes-validate==$KUBERNETES_VALIDATE_VERSION --hash=sha256:$KUBERNETES_VALIDATE_SHA256
docker-compose==$DOCKER_COMPOSE_VERSION --hash=sha256:$DOCKER_COMPOSE_SHA256
EOF
"$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --require-hashes -r "$TMP/requirements.txt" -d "$TMP/wheels"

rm -rf "$TARGET"
mkdir -p "$TARGET"
"$PY" - "$TMP/wheels" "$TARGET" "$K8S_VERSIONS" <<'PYEOF'
import glob, json, os, sys, zipfile

wheels, target, versions = sys.argv[1], sys.argv[2], sys.argv[3].split()

def one(pattern):
    found = glob.glob(os.path.join(wheels, pattern))
    if len(found) != 1:
        sys.exit(f"install-schemas: expected one wheel matching {pattern}, found {found}")
    return found[0]

def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)

with zipfile.ZipFile(one("kubernetes_validate-*.whl")) as z:
    names = z.namelist()
    for version in versions:
        prefix = f"kubernetes_validate/kubernetes-json-schema/{version}-local-strict/"
        members = [n for n in names if n.startswith(prefix) and n.endswith(".json")]
        if not members:
            sys.exit(f"install-schemas: kubernetes-validate has no schemas for {version}")
        for n in members:
            write(os.path.join(target, "kubernetes", f"{version}-local-strict", n[len(prefix):]), z.read(n))
    for n in names:
        if n.endswith("/LICENSE") and ".dist-info/" in n:
            write(os.path.join(target, "kubernetes", "LICENSE"), z.read(n))

with zipfile.ZipFile(one("docker_compose-*.whl")) as z:
    data = z.read("compose/config/compose_spec.json")
    json.loads(data)  # fail here, not in the tests, if it is not JSON
    write(os.path.join(target, "compose", "compose_spec.json"), data)
    for n in z.namelist():
        if n.endswith(".dist-info/LICENSE"):
            write(os.path.join(target, "compose", "LICENSE"), z.read(n))
PYEOF

echo "$WANT" >"$STAMP"
echo "schemas: installed in $TARGET ($WANT)"
