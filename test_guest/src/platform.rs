//! What the guest DTB tells the test guest: RAM, CPUs, devices, and the
//! mode chosen in `bootargs` (`test-guest mode=bench|hostile|ffa`).

use crate::cpu::MAX_CPUS;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Bench,
    Hostile,
    /// FF-A conformance cases through the hypervisor's proxy.
    Ffa,
}

pub struct Platform {
    pub mode: Mode,
    pub ram_base: u64,
    pub ram_size: u64,
    pub mpidrs: [u64; MAX_CPUS],
    pub cpus: usize,
    pub uart: usize,
    pub gicd: usize,
    pub gicr: usize,
    pub virtio: Option<usize>,
}

impl Platform {
    pub fn ram_end(&self) -> u64 {
        self.ram_base + self.ram_size
    }

    /// Parses the DTB the hypervisor passed in x0.
    pub fn from_dtb(addr: usize) -> Result<Self, &'static str> {
        // SAFETY: booting.rst puts a valid DTB at x0, in guest RAM that our
        // identity map covers; `from_ptr` checks the header and size.
        let fdt = unsafe { fdt::Fdt::from_ptr(addr as *const u8) }.map_err(|_| "bad DTB")?;
        let bootargs = fdt.chosen().bootargs().unwrap_or("");
        let mode = match bootargs
            .split_whitespace()
            .find_map(|w| w.strip_prefix("mode="))
        {
            Some("bench") => Mode::Bench,
            Some("hostile") => Mode::Hostile,
            Some("ffa") => Mode::Ffa,
            _ => return Err("bootargs need mode=bench, mode=hostile or mode=ffa"),
        };
        let ram = fdt.memory().regions().next().ok_or("no memory node")?;
        let mut mpidrs = [0; MAX_CPUS];
        let mut cpus = 0;
        for (slot, c) in mpidrs.iter_mut().zip(fdt.cpus()) {
            *slot = c.ids().first() as u64;
            cpus += 1;
        }
        let reg = |compat: &[&str], n: usize| {
            fdt.find_compatible(compat)
                .and_then(|node| node.reg())
                .and_then(|mut r| r.nth(n))
                .map(|r| r.starting_address as usize)
        };
        Ok(Self {
            mode,
            ram_base: ram.starting_address as u64,
            ram_size: ram.size.ok_or("memory node without size")? as u64,
            mpidrs,
            cpus,
            uart: reg(&["arm,pl011"], 0).ok_or("no PL011")?,
            gicd: reg(&["arm,gic-v3"], 0).ok_or("no GICv3 distributor (run with --gic 3)")?,
            gicr: reg(&["arm,gic-v3"], 1).ok_or("no GICv3 redistributors")?,
            virtio: reg(&["virtio,mmio"], 0),
        })
    }

    pub fn gicr_of(&self, cpu: usize) -> usize {
        self.gicr + cpu * crate::gic::GICR_STRIDE
    }
}
