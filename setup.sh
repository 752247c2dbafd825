#!/bin/sh
# One-time host set-up: installs the host packages the project needs (as root
# or with passwordless sudo; otherwise prints the command to run) and fetches
# U-Boot into build/cache. `cargo xrun` and `cargo xtest` do this themselves.
set -eu
cd "$(dirname "$0")"
cargo xtask deps
exec cargo xtask uboot
