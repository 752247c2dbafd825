#!/bin/sh
# Fetches the U-Boot that boots elf-hypervisor (Debian trixie's u-boot-qemu;
# bookworm's 2023.01 hangs in bootelf) into build/cache and compiles boot.cmd
# into build/boot.scr. `cargo xbuild`/`xrun`/`xtest` do this on their own;
# this script is for doing just this step.
set -eu
cd "$(dirname "$0")/.."
exec cargo xtask uboot "$@"
