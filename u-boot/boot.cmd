# elf-hypervisor boot script. `cargo xbuild` compiles it into boot.scr with
#   mkimage -A arm64 -T script -C none -d boot.cmd boot.scr
# U-Boot's standard boot finds boot.scr on partition 1 of the virtio disk and
# runs it with ${devtype}/${devnum} set to that disk.
#
# The ELF file is loaded at ${ramdisk_addr_r} (0x44000000 on qemu_arm64),
# away from where its segments go (0x41000000, see bootloader/link.ld).
# `bootelf -p` copies segments by their physical addresses and, with
# autostart=yes, jumps to the entry with argv[0] = our DTB argument.

if test -z "${devtype}"; then setenv devtype virtio; setenv devnum 0; fi
echo "elf-hypervisor: loading elf-hypervisor.elf from ${devtype} ${devnum}:1"
setenv autostart yes
if load ${devtype} ${devnum}:1 ${ramdisk_addr_r} elf-hypervisor.elf; then
    bootelf -p ${ramdisk_addr_r} ${fdtcontroladdr}
fi
echo "elf-hypervisor: boot failed"
poweroff
