#!/usr/bin/env bash
# Take a screenshot of an HTML report in headless Chromium with the network off.
#
#   scripts/screenshot_report.sh [REPORT.html] [OUT.png]
#
# Without REPORT.html, writes the sample report (sample_data/, as of 2026-01-01)
# to a temporary directory first. Installs nothing: it needs a Chromium on PATH
# (chromium, chromium-browser, google-chrome) or at /usr/bin/chromium (Debian:
# apt-get install chromium), and .venv/bin/retcalc for the sample report.
# The browser gets no network: every host name resolves to nothing and every
# request goes to a dead proxy, so a chart that is not embedded in the page
# would show as missing in the screenshot. HEIGHT (default 9000) sets the
# window height in pixels; the page is 1280 pixels wide.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
report=${1:-}
out=${2:-$root/build/report.png}
height=${HEIGHT:-9000}

browser=""
for candidate in chromium chromium-browser google-chrome /usr/bin/chromium; do
    if command -v "$candidate" >/dev/null 2>&1; then
        browser=$(command -v "$candidate")
        break
    fi
done
if [ -z "$browser" ]; then
    echo "screenshot_report: no Chromium found (Debian: apt-get install chromium)" >&2
    exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -z "$report" ]; then
    report="$work/report.html"
    "$root/.venv/bin/retcalc" report "$root/sample_data/orders.csv" \
        --customers "$root/sample_data/customers.csv" \
        --returns "$root/sample_data/returns.csv" \
        --as-of 2026-01-01 --today 2026-01-05 \
        --title "Retention report: sample shop" \
        --output "$report"
fi
if [ ! -f "$report" ]; then
    echo "screenshot_report: no such file: $report" >&2
    exit 2
fi
mkdir -p "$(dirname "$out")"
url="file://$(cd "$(dirname "$report")" && pwd)/$(basename "$report")"

run=()
# A network namespace of its own where the system allows it (root, or user namespaces).
if command -v unshare >/dev/null 2>&1 && unshare --net true 2>/dev/null; then
    run=(unshare --net)
fi

"${run[@]}" "$browser" --headless --no-sandbox --disable-gpu \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-default-apps --no-first-run --no-default-browser-check \
    --host-resolver-rules="MAP * ~NOTFOUND" --proxy-server="http://127.0.0.1:9" \
    --user-data-dir="$work/profile" --hide-scrollbars \
    --window-size="1280,$height" --screenshot="$out" "$url" 2>/dev/null

echo "$out"
