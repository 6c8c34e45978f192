#!/usr/bin/env bash
# Video overlay labels: ffmpeg's drawtext renders each object's name with DejaVu Sans (src/io/textLabel.ts).
set -euo pipefail
source "$(dirname "$0")/apt.lib"
apt_install fonts-dejavu-core
