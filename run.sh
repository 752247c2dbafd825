#!/bin/sh
# Boot elf-hypervisor in QEMU: a thin wrapper around `cargo xrun`.
# Options: --gic 2|3  --cpu CPU  --smp N  --mem MiB  --direct (skip U-Boot)
set -eu
cd "$(dirname "$0")"
exec cargo xrun "$@"
