//! The emulated virtio-mmio block device: register state, the §2.1 status
//! state machine, §2.2 feature negotiation and the QueueNotify handler.

use crate::backend::BlockBackend;
use crate::blk::{Context, Disk};
use crate::config::{ConfigSpace, DeviceConfig};
use crate::error::{AccessError, ConfigError, RequestError};
use crate::guest_memory::GuestMemory;
use crate::mmio::{decode_read, decode_write, Register, Target};
use crate::queue::{Chain, SplitQueue};
use crate::spec::{
    feature, interrupt, status, DEVICE_ID_BLOCK, MMIO_MAGIC, MMIO_VERSION, SECTOR_SIZE,
};
use crate::stats::Stats;

/// What the hypervisor must do after a register write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notify {
    /// Nothing new for the guest.
    None,
    /// InterruptStatus gained a bit: assert the device's SPI.
    Interrupt,
}

/// The only queue: virtio-blk's `requestq` (§5.2.2, no VIRTIO_BLK_F_MQ).
const REQUEST_QUEUE: u32 = 0;

/// An emulated virtio-mmio (version 2) block device (§4.2, §5.2).
///
/// Every trapped guest access to its 0x200-byte window goes to
/// [`mmio_read`](Self::mmio_read) / [`mmio_write`](Self::mmio_write);
/// requests run synchronously inside the QueueNotify write, moving data
/// through the caller's scratch buffer `S` (no allocation).
///
/// The SPI is level-triggered: after any access, drive it from
/// [`interrupt_line`](Self::interrupt_line) (the driver's InterruptACK
/// lowers it; [`Notify::Interrupt`] says it just went up).
///
/// Concurrency: `&mut self` everywhere; the hypervisor serialises vCPUs'
/// accesses (one lock around the device).
pub struct VirtioBlkMmio<B, S = &'static mut [u8]> {
    backend: B,
    scratch: S,
    disk: Disk,
    config_space: ConfigSpace,
    queue_max_size: u16,
    vendor_id: u32,
    device_features: u64,

    // Transport state, cleared by a device reset (§2.4).
    status: u8,
    device_features_sel: u32,
    driver_features: u64,
    driver_features_sel: u32,
    /// The driver wrote a 1 to a feature word we do not have (sel >= 2).
    driver_features_unknown: bool,
    queue_sel: u32,
    queue: SplitQueue,
    interrupt_status: u32,

    /// Snapshot of the chain being executed; a field so that its 4 KiB do
    /// not live on the trap handler's stack.
    chain: Chain,
    stats: Stats,
}

impl<B: BlockBackend, S: AsMut<[u8]>> VirtioBlkMmio<B, S> {
    /// A device in the reset state over `backend`. `scratch` bounds how
    /// much data moves per backend call (64 KiB is a good size; at least
    /// 512 bytes; its length is rounded down to whole sectors). The
    /// backend's capacity and read-only flag are sampled once, here.
    pub fn new(backend: B, mut scratch: S, config: DeviceConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let raw_len = scratch.as_mut().len();
        if raw_len < SECTOR_SIZE {
            return Err(ConfigError::ScratchTooSmall(raw_len));
        }
        let disk = Disk {
            capacity: backend.capacity_sectors(),
            read_only: backend.read_only(),
            serial: config.serial,
        };
        // §5.2.3. Not offered: SIZE_MAX (no per-buffer limit), GEOMETRY,
        // TOPOLOGY, CONFIG_WCE, MQ, DISCARD, WRITE_ZEROES, SECURE_ERASE,
        // INDIRECT_DESC and EVENT_IDX (rings stay simple to validate),
        // ACCESS_PLATFORM (we take guest physical addresses), RING_PACKED.
        let mut device_features =
            feature::VERSION_1 | feature::BLK_SEG_MAX | feature::BLK_BLK_SIZE | feature::BLK_FLUSH;
        if disk.read_only {
            device_features |= feature::BLK_RO;
        }
        Ok(Self {
            backend,
            scratch,
            config_space: ConfigSpace::new(disk.capacity, config.queue_max_size),
            disk,
            queue_max_size: config.queue_max_size,
            vendor_id: config.vendor_id,
            device_features,
            status: 0,
            device_features_sel: 0,
            driver_features: 0,
            driver_features_sel: 0,
            driver_features_unknown: false,
            queue_sel: 0,
            queue: SplitQueue::default(),
            interrupt_status: 0,
            chain: Chain::new(),
            stats: Stats::default(),
        })
    }

    /// A guest read of `size` bytes at `offset` in the window.
    pub fn mmio_read(&mut self, offset: u64, size: u8) -> Result<u32, AccessError> {
        let register = match decode_read(offset, size)? {
            Target::Config { offset } => return Ok(self.config_space.read(offset, size)),
            Target::Register(r) => r,
        };
        let selected = self.queue_sel == REQUEST_QUEUE;
        Ok(match register {
            Register::MagicValue => MMIO_MAGIC,
            Register::Version => MMIO_VERSION,
            Register::DeviceId => DEVICE_ID_BLOCK,
            Register::VendorId => self.vendor_id,
            Register::DeviceFeatures => match self.device_features_sel {
                0 => self.device_features as u32,
                1 => (self.device_features >> 32) as u32,
                _ => 0,
            },
            // §4.2.2: zero means "queue not available".
            Register::QueueNumMax if selected => u32::from(self.queue_max_size),
            Register::QueueReady if selected => u32::from(self.queue.ready),
            Register::QueueNumMax | Register::QueueReady => 0,
            Register::InterruptStatus => self.interrupt_status,
            Register::Status => u32::from(self.status),
            // §4.2.2: no shared memory regions, so length and base read
            // as -1 ("a non-existent region").
            Register::ShmLenLow | Register::ShmLenHigh => u32::MAX,
            Register::ShmBaseLow | Register::ShmBaseHigh => u32::MAX,
            // The configuration space never changes (see ConfigSpace).
            Register::ConfigGeneration => 0,
            // Write-only registers were rejected by the decoder.
            _ => 0,
        })
    }

    /// A guest write of `value` (`size` bytes) at `offset` in the window.
    /// QueueNotify runs the pending requests against `mem`.
    pub fn mmio_write(
        &mut self,
        offset: u64,
        size: u8,
        value: u32,
        mem: &mut impl GuestMemory,
    ) -> Result<Notify, AccessError> {
        let register = match decode_write(offset, size)? {
            Target::Register(r) => r,
            // Rejected by the decoder (configuration space is read-only).
            Target::Config { .. } => return Err(AccessError::ReadOnly { offset }),
        };
        match register {
            Register::DeviceFeaturesSel => self.device_features_sel = value,
            Register::DriverFeatures => self.write_driver_features(value),
            Register::DriverFeaturesSel => self.driver_features_sel = value,
            Register::QueueSel => self.queue_sel = value,
            Register::QueueNum => self.write_queue_num(value),
            Register::QueueReady => self.write_queue_ready(value),
            Register::QueueDescLow => self.write_queue_addr(|q| &mut q.desc, value, false),
            Register::QueueDescHigh => self.write_queue_addr(|q| &mut q.desc, value, true),
            Register::QueueDriverLow => self.write_queue_addr(|q| &mut q.avail, value, false),
            Register::QueueDriverHigh => self.write_queue_addr(|q| &mut q.avail, value, true),
            Register::QueueDeviceLow => self.write_queue_addr(|q| &mut q.used, value, false),
            Register::QueueDeviceHigh => self.write_queue_addr(|q| &mut q.used, value, true),
            Register::QueueNotify => return Ok(self.notify(value, mem)),
            Register::InterruptAck => self.interrupt_status &= !value,
            Register::Status => self.write_status(value),
            // No shared memory regions: any selection reads as absent.
            Register::ShmSel => {}
            // Read-only registers were rejected by the decoder.
            _ => return Err(AccessError::ReadOnly { offset }),
        }
        Ok(Notify::None)
    }

    /// Level of the device's interrupt: InterruptStatus != 0 (§4.2.2).
    pub fn interrupt_line(&self) -> bool {
        self.interrupt_status != 0
    }

    /// Counters since construction.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The device-status byte (§2.1) as the driver would read it.
    pub fn status(&self) -> u8 {
        self.status
    }

    /// The backend, e.g. to flush it at shutdown.
    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }

    // --- §2.1 / §3.1.1 status and §2.2 features ---------------------------

    fn write_status(&mut self, value: u32) {
        if value == 0 {
            self.reset();
            return;
        }
        // Status is one byte wide (§2.1); upper bits are ignored.
        let requested = (value as u8) & status::DRIVER_BITS;
        let mut new = requested | (self.status & status::DEVICE_NEEDS_RESET);
        let newly_features_ok =
            requested & status::FEATURES_OK != 0 && self.status & status::FEATURES_OK == 0;
        // §2.2.2: "otherwise it MUST fail to set the FEATURES_OK device
        // status bit"; the driver notices by re-reading Status (§3.1.1 6).
        if newly_features_ok && !self.features_acceptable() {
            new &= !status::FEATURES_OK;
        }
        self.status = new;
    }

    /// §2.2.2 / §6.1: a subset of what we offer, including VERSION_1 (a
    /// version 2 transport has no legacy interface to fall back to).
    fn features_acceptable(&self) -> bool {
        !self.driver_features_unknown
            && self.driver_features & !self.device_features == 0
            && self.driver_features & feature::VERSION_1 != 0
    }

    fn write_driver_features(&mut self, value: u32) {
        // Negotiation is over once FEATURES_OK is accepted (§3.1.1).
        if self.status & status::FEATURES_OK != 0 {
            return;
        }
        match self.driver_features_sel {
            0 => self.driver_features = (self.driver_features & !0xffff_ffff) | u64::from(value),
            1 => {
                self.driver_features =
                    (self.driver_features & 0xffff_ffff) | (u64::from(value) << 32)
            }
            _ => self.driver_features_unknown |= value != 0,
        }
    }

    /// §2.4 device reset: back to the state right after construction,
    /// except for the statistics. Requests never span traps, so nothing
    /// is in flight.
    fn reset(&mut self) {
        self.status = 0;
        self.device_features_sel = 0;
        self.driver_features = 0;
        self.driver_features_sel = 0;
        self.driver_features_unknown = false;
        self.queue_sel = 0;
        // §4.2.2.1: clear InterruptStatus and every QueueReady.
        self.queue = SplitQueue::default();
        self.interrupt_status = 0;
        self.stats.resets += 1;
    }

    // --- §4.2.3.2 queue configuration ---------------------------------------

    /// `true` if queue-configuration writes may change the selected queue:
    /// it exists and is not live (§4.2.2.2: the driver MUST NOT change a
    /// ready queue; we ignore such writes instead of racing the rings).
    fn queue_writable(&self) -> bool {
        self.queue_sel == REQUEST_QUEUE && !self.queue.ready
    }

    fn write_queue_num(&mut self, value: u32) {
        if !self.queue_writable() {
            return;
        }
        // §2.7: split queue sizes are powers of two, at most QueueNumMax.
        // Anything else leaves the queue unconfigured, so QueueReady = 1
        // is refused rather than running on a size the driver did not mean.
        let valid = value.is_power_of_two() && value <= u32::from(self.queue_max_size);
        self.queue.size = if valid { value as u16 } else { 0 };
    }

    fn write_queue_addr(&mut self, field: fn(&mut SplitQueue) -> &mut u64, value: u32, high: bool) {
        if !self.queue_writable() {
            return;
        }
        let addr = field(&mut self.queue);
        *addr = if high {
            (*addr & 0xffff_ffff) | (u64::from(value) << 32)
        } else {
            (*addr & !0xffff_ffff) | u64::from(value)
        };
    }

    fn write_queue_ready(&mut self, value: u32) {
        if self.queue_sel != REQUEST_QUEUE {
            return;
        }
        if value == 0 {
            self.queue.ready = false;
        } else if !self.queue.ready {
            // A refused enable reads back as 0 (Linux checks).
            self.queue.enable();
        }
    }

    // --- QueueNotify: run requests -----------------------------------------

    /// `true` once the driver said DRIVER_OK and nothing has failed:
    /// §2.1.2 "The device MUST NOT consume buffers or send any used buffer
    /// notifications to the driver before DRIVER_OK."
    fn live(&self) -> bool {
        let s = self.status;
        s & status::DRIVER_OK != 0
            && s & status::FEATURES_OK != 0
            && s & (status::DEVICE_NEEDS_RESET | status::FAILED) == 0
    }

    fn notify(&mut self, queue: u32, mem: &mut impl GuestMemory) -> Notify {
        // Without VIRTIO_F_NOTIFICATION_DATA the value is the queue index
        // (§4.2.2); kicks of absent or dormant queues are ignored.
        if queue != REQUEST_QUEUE || !self.live() || !self.queue.ready {
            return Notify::None;
        }
        self.stats.notifies += 1;
        match self.run_queue(mem) {
            Ok(0) => Notify::None,
            Ok(_) => {
                if self.queue.wants_interrupt(mem) {
                    self.interrupt_status |= interrupt::USED_BUFFER;
                    Notify::Interrupt
                } else {
                    Notify::None
                }
            }
            Err(e) => self.break_device(e),
        }
    }

    /// Consumes every chain available at entry (at most the queue size,
    /// so a kick does bounded work). Returns how many were used.
    fn run_queue(&mut self, mem: &mut impl GuestMemory) -> Result<u16, RequestError> {
        let pending = self.queue.pending(mem)?;
        for done in 0..pending {
            let used = self.queue.pop(mem, &mut self.chain).and_then(|()| {
                let mut ctx = Context {
                    disk: &self.disk,
                    backend: &mut self.backend,
                    scratch: whole_sectors(self.scratch.as_mut()),
                    mem: &mut *mem,
                    stats: &mut self.stats,
                };
                ctx.execute(&self.chain)
            });
            let result = used.and_then(|len| self.queue.push_used(mem, self.chain.head, len));
            if let Err(e) = result {
                // Report what completed before the failure, then give up.
                if done > 0 && self.queue.wants_interrupt(mem) {
                    self.interrupt_status |= interrupt::USED_BUFFER;
                }
                return Err(e);
            }
        }
        Ok(pending)
    }

    /// §2.1.2: "The device SHOULD set DEVICE_NEEDS_RESET when it enters an
    /// error state that a reset is needed. If DRIVER_OK is set, after it
    /// sets DEVICE_NEEDS_RESET, the device MUST send a device configuration
    /// change notification to the driver." (DRIVER_OK is always set here.)
    fn break_device(&mut self, error: RequestError) -> Notify {
        self.stats.last_error = Some(error);
        self.stats.needs_reset += 1;
        self.status |= status::DEVICE_NEEDS_RESET;
        self.interrupt_status |= interrupt::CONFIG_CHANGE;
        Notify::Interrupt
    }
}

/// The largest prefix of `buf` made of whole sectors, so every backend
/// call gets a multiple of 512 bytes. Recomputed per kick rather than
/// trusting a length saved at construction: `AsMut` is foreign code.
fn whole_sectors(buf: &mut [u8]) -> &mut [u8] {
    let usable = buf.len() - buf.len() % SECTOR_SIZE;
    buf.split_at_mut(usable).0
}
