#!/usr/bin/env bash
# Lint and unit-test latentscale's Prometheus alerting rules. CI runs this;
# run it after every change to alerts.yml. Works from any directory.
#
#   integrations/prometheus/check.sh          # uses promtool from PATH
#   PROMTOOL=/opt/prometheus/promtool ./check.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
promtool="${PROMTOOL:-promtool}"

if ! command -v "$promtool" >/dev/null 2>&1; then
    echo "check.sh: promtool not found (install the Debian/Ubuntu package 'prometheus', or set PROMTOOL=/path/to/promtool)" >&2
    exit 127
fi

echo "==> $("$promtool" --version 2>&1 | head -n 1)"
echo "==> promtool check rules $here/alerts.yml"
"$promtool" check rules "$here/alerts.yml"
echo "==> promtool test rules $here/alerts_test.yml"
# rule_files in the test file are relative to it; run from its directory so
# older promtool versions that resolve them against the cwd agree.
(cd "$here" && "$promtool" test rules alerts_test.yml)
echo "==> OK: alert rules lint clean and all rule unit tests pass"
