#!/bin/sh
# One-time host set-up; `cargo xrun` and `cargo xtest` do all of this
# themselves when needed, so it only saves time later (and works offline after).
#   1. host packages (as root or with passwordless sudo; otherwise prints the
#      one command to run),
#   2. U-Boot (Debian trixie's u-boot-qemu) into build/cache,
#   3. the guest DTB: QEMU's own device tree for the machine options below,
#      with /chosen/bootargs set, written to build/guest.dtb,
#   4. the guest payload: Debian bookworm's arm64 kernel and busybox-static,
#      the initramfs and the ext4 root filesystem (build/cache/payload).
# Options (all optional, the same as cargo xrun's):
#   --gic 2|3  --cpu CPU  --smp N  --mem MiB  --flavour cloud|generic
#   --bootargs "console=ttyAMA0 earlycon rdinit=/init"
set -eu
cd "$(dirname "$0")"
cargo xtask deps
cargo xtask uboot
cargo xtask setup-dtb "$@"
exec cargo xtask payload "$@"
