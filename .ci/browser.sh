#!/usr/bin/env bash
# Browser suite (issue 9): Debian's Chromium driven by Playwright against a live server
# with demo data. Its own pytest process (STACK-NOTES: sync Playwright and
# pytest-asyncio must not share one). Exit 5 ("no tests ran") counts as failure.
# axe-core (pinned in .ci/a11y/package-lock.json) is injected by tests/browser/test_a11y.py.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  apt-get update && apt-get install -y chromium || exit 1
fi
# A Chinese font, or the screenshots show empty boxes for every character.
if [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
  apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei || exit 1
fi
if ! command -v npm >/dev/null; then
  apt-get update && apt-get install -y npm || exit 1
fi
(cd .ci/a11y && npm ci --no-audit --no-fund --ignore-scripts) || exit 1
.venv/bin/pip install -q -e '.[test,browser]' || exit 1
PINGSHEN_BROWSER_TESTS=1 PINGSHEN_AXE_JS="$PWD/.ci/a11y/node_modules/axe-core/axe.min.js" \
  .venv/bin/python -m pytest tests/browser -p no:randomly
rc=$?
if [ "$rc" -eq 5 ]; then echo "CI: the browser suite ran no tests" >&2; exit 1; fi
exit "$rc"
