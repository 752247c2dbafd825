# elf-hypervisor: native reference boot (no hypervisor). U-Boot's `booti`
# starts the guest's Linux directly at EL2 with the same Image, initrd and
# guest.dtb that the hypervisor would use. Compiled into boot.scr with
#   mkimage -A arm64 -O linux -T script -C none -d boot-native.cmd boot.scr
#
# Load addresses (QEMU virt RAM starts at 0x40000000). Debian trixie's
# qemu_arm64 U-Boot sets kernel_addr_r=0x40400000, ramdisk_addr_r=0x44000000
# and fdt_addr=0x40000000 (there is no fdt_addr_r). We set our own:
#   guest.dtb   0x40000000  QEMU's DTB there is no longer needed (U-Boot runs
#                           on its relocated copy, ${fdtcontroladdr}).
#   Image       0x40400000  = kernel_addr_r: 2 MiB aligned and text_offset 0,
#                           so booti runs it in place (no relocation).
#   initrd.img  0x48000000  124 MiB above the Image, not ramdisk_addr_r
#                           (0x44000000): the generic kernel's effective size
#                           (header image_size, with BSS) is 43.2 MiB and grows
#                           with each release. xtask (payload/kernel.rs) refuses
#                           a kernel whose effective size exceeds this window.
# booti then copies the initrd and the DTB (with its /chosen additions) to the
# top of RAM ("Loading Ramdisk to 7d44c000" with 1 GiB), so these addresses
# only have to keep the three loads apart. U-Boot's LMB refuses loads that
# overlap what it reserved for itself at the top of RAM; 0x48000000 + a few
# MiB stays below that with the smallest RAM xrun allows (256 MiB: RAM ends
# at 0x50000000).

if test -z "${devtype}"; then setenv devtype virtio; setenv devnum 0; fi
setenv guest_fdt 0x40000000
setenv guest_kernel 0x40400000
setenv guest_initrd 0x48000000
echo "native: loading Image, guest.dtb and initrd.img from ${devtype} ${devnum}:1"
if load ${devtype} ${devnum}:1 ${guest_kernel} Image; then
  if load ${devtype} ${devnum}:1 ${guest_fdt} guest.dtb; then
    if load ${devtype} ${devnum}:1 ${guest_initrd} initrd.img; then
      # ${filesize} is the initrd's size: it was loaded last.
      echo "native: booti ${guest_kernel} ${guest_initrd}:${filesize} ${guest_fdt}"
      booti ${guest_kernel} ${guest_initrd}:${filesize} ${guest_fdt}
    fi
  fi
fi
echo "native: boot failed"
poweroff
