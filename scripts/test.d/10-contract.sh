#!/usr/bin/env bash
# buf lint / format / freshness / breaking.
exec bash "$(dirname "$0")/../check-contract.sh"
