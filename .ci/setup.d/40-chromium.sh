#!/usr/bin/env bash
# Debian's Chromium for the browser app's end-to-end tests (test/web, driven by playwright-core;
# no browser is ever downloaded by npm). Fonts so the UI text renders in screenshots.
set -euo pipefail
source "$(dirname "$0")/apt.lib"
apt_install chromium fonts-dejavu-core
