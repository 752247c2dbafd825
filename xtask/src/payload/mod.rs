//! Guest payload from Debian packages (kernel, modules, busybox), initramfs and root filesystem.
