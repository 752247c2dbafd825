//! Counters for logs and benchmarks.

use crate::error::RequestError;

/// Cumulative counters since construction (device resets do not clear
/// them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// QueueNotify writes that were acted on.
    pub notifies: u64,
    /// Requests completed (any status).
    pub requests: u64,
    /// VIRTIO_BLK_T_IN requests.
    pub reads: u64,
    /// VIRTIO_BLK_T_OUT requests.
    pub writes: u64,
    /// VIRTIO_BLK_T_FLUSH requests.
    pub flushes: u64,
    /// Bytes copied from the backend to the guest.
    pub bytes_read: u64,
    /// Bytes copied from the guest to the backend.
    pub bytes_written: u64,
    /// Requests completed with VIRTIO_BLK_S_IOERR.
    pub io_errors: u64,
    /// Requests completed with VIRTIO_BLK_S_UNSUPP.
    pub unsupported: u64,
    /// Times the device set DEVICE_NEEDS_RESET.
    pub needs_reset: u64,
    /// Device resets by the driver (Status = 0).
    pub resets: u64,
    /// The most recent request or queue error, for the log.
    pub last_error: Option<RequestError>,
}
