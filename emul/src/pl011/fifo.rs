//! Fixed-capacity byte ring for received characters.

/// Bytes buffered for the guest. Larger than the 16 entries the guest
/// driver believes in, so host input bursts are not lost between guest
/// reads; the guest only sees "empty"/"not empty" and the trigger level.
pub const RX_CAPACITY: usize = 64;

#[derive(Clone, Debug)]
pub(crate) struct RxFifo {
    buf: [u8; RX_CAPACITY],
    head: usize,
    len: usize,
}

impl RxFifo {
    pub const fn new() -> Self {
        Self {
            buf: [0; RX_CAPACITY],
            head: 0,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_full(&self) -> bool {
        self.len == RX_CAPACITY
    }

    /// Appends a byte; `false` (and nothing stored) when full.
    pub fn push(&mut self, byte: u8) -> bool {
        if self.is_full() {
            return false;
        }
        let tail = (self.head + self.len) % RX_CAPACITY;
        self.buf[tail] = byte;
        self.len += 1;
        true
    }

    pub fn pop(&mut self) -> Option<u8> {
        if self.is_empty() {
            return None;
        }
        let byte = self.buf[self.head];
        self.head = (self.head + 1) % RX_CAPACITY;
        self.len -= 1;
        Some(byte)
    }

    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_fills() {
        let mut f = RxFifo::new();
        for round in 0..3u8 {
            for i in 0..RX_CAPACITY as u8 {
                assert!(f.push(i.wrapping_add(round)));
            }
            assert!(f.is_full());
            assert!(!f.push(0));
            for i in 0..RX_CAPACITY as u8 {
                assert_eq!(f.pop(), Some(i.wrapping_add(round)));
            }
            assert_eq!(f.pop(), None);
            f.push(1);
            f.pop();
        }
    }
}
