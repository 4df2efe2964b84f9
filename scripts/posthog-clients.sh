#!/usr/bin/env bash
# Installs PostHog's own clients, pinned, from their registries into target/posthog-clients/
# (once; a second run finds them there): posthog-python with pip --target, posthog-node and
# posthog-js with npm --prefix. The API tests run it before they drive a client.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${CARGO_TARGET_DIR:-target}/posthog-clients"
python_version=7.91.1
node_version=5.70.0
js_version=1.449.2
if [ ! -e "$dir/python/posthog-$python_version.installed" ]; then
    command -v python3 >/dev/null || { echo "python3 is missing: apt-get install python3 python3-pip" >&2; exit 1; }
    rm -rf "$dir/python"
    python3 -m pip install --quiet --disable-pip-version-check --target "$dir/python" \
        "posthog==$python_version"
    touch "$dir/python/posthog-$python_version.installed"
fi
if [ ! -e "$dir/node/posthog-$node_version-$js_version.installed" ]; then
    command -v npm >/dev/null || { echo "npm is missing: apt-get install nodejs npm" >&2; exit 1; }
    rm -rf "$dir/node"
    mkdir -p "$dir/node"
    npm install --silent --no-audit --no-fund --prefix "$dir/node" \
        "posthog-node@$node_version" "posthog-js@$js_version"
    touch "$dir/node/posthog-$node_version-$js_version.installed"
fi
