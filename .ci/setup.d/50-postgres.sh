#!/usr/bin/env bash
# PostgreSQL server binaries for the annotation-project tests (test/projects: initdb + pg_ctl on
# 127.0.0.1 in a temp dir; the tests start and stop it themselves).
set -euo pipefail
source "$(dirname "$0")/apt.lib"
apt_install postgresql
