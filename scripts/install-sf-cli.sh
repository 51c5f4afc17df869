#!/usr/bin/env bash
# Install the Salesforce CLI locally into tools/sf-cli (about 300 MB, git-ignored) for the opt-in
# client test (FORCEFLOW_SF_CLI=1 vitest run test/clients/sf-cli.test.ts).
# On Node 20 the current CLI fails at start-up because a dependency pulls undici 8 (Node 22 only);
# tools/sf-cli/package.json pins undici to ^7 with an npm "overrides" entry, which makes it run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$here/tools/sf-cli"
if [[ -x "$dir/node_modules/.bin/sf" && "${FORCEFLOW_SF_CLI_REINSTALL:-}" != "1" ]]; then
  echo "sf CLI already installed in $dir ($("$dir/node_modules/.bin/sf" --version 2>/dev/null | head -n 1))"
  exit 0
fi
cd "$dir"
npm install --no-audit --no-fund --loglevel=error
SF_DISABLE_TELEMETRY=true SF_DISABLE_AUTOUPDATE=true "$dir/node_modules/.bin/sf" --version
