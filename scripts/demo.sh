#!/bin/sh
# Sets up a fresh clone, then runs the main job on the bundled example twice.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
exec sh scripts/run-demo.sh
