#!/usr/bin/env bash
# Load smoke: starts the real server, runs load/scenarios/smoke.ts against it (4 rooms x 6 users, 40 msg/s
# for 10 s) and fails on a threshold (latency, seq gaps, lost deliveries, unacked sends). About 15 s.
# Report: artifacts/load-smoke.html.
cd "$(dirname "$0")/../.."
source scripts/lib.sh
# Flush the page cache's dirty data first, so the server's fsyncs do not queue behind earlier steps' writeback.
sync
check load-smoke npm run --silent load:smoke
