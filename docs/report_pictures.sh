#!/usr/bin/env bash
# Remakes the README's report pictures (docs/report-*.png) with the project's own commands:
# the five baselines on MovieLens latest-small (../shared), `perrecbench report`, then the
# page's top as Debian's headless Chromium draws it. Takes about two minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-$(mktemp -d)}"
perrecbench build --source movielens --input ../shared/data/movielens-latest-small --out "$work/bench" --no-progress
for m in random oracle bias content cf; do
  perrecbench run --bench "$work/bench" --model "baseline/$m" --method point,pair,list --out "$work/runs/$m" --no-progress
done
perrecbench report "$work"/runs/* --out "$work/report" --reference --title "MovieLens latest-small: the five baselines"
cp "$work/report/figures/leaderboard-heatmap.png" docs/report-heatmap.png
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$work/chromium" \
  --window-size=1280,1000 --screenshot="$PWD/docs/report-page.png" "file://$work/report/index.html"
