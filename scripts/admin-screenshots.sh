#!/usr/bin/env bash
# Regenerates the screenshots of docs/ADMIN.md: the browser tests of the admin console and the /chat page
# (Tests/XMPPServerTests/AdminConsoleTests.swift) save each page they visit as PNG into docs/screenshots.
# Needs what the tests need: chromium, chromium-driver (Debian) and selenium, slixmpp (PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/screenshots
XMPPD_ADMIN_SCREENSHOTS="$PWD/docs/screenshots" swift test --filter 'AdminConsoleTests/browser'
ls -l docs/screenshots
