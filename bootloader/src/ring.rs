//! A fixed-size byte ring: console input waiting for room in the guest's
//! UART FIFO. Overflow drops the newest bytes and counts them.

pub struct ByteRing<const N: usize> {
    buf: [u8; N],
    head: usize,
    len: usize,
    dropped: u64,
}

impl<const N: usize> ByteRing<N> {
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            head: 0,
            len: 0,
            dropped: 0,
        }
    }

    pub fn push(&mut self, b: u8) -> bool {
        if self.len == N {
            self.dropped += 1;
            return false;
        }
        self.buf[(self.head + self.len) % N] = b;
        self.len += 1;
        true
    }

    pub fn pop(&mut self) -> Option<u8> {
        if self.len == 0 {
            return None;
        }
        let b = self.buf[self.head];
        self.head = (self.head + 1) % N;
        self.len -= 1;
        Some(b)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_full(&self) -> bool {
        self.len == N
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl<const N: usize> Default for ByteRing<N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order_wraps_and_counts_drops() {
        let mut r = ByteRing::<4>::new();
        for b in 1..=4 {
            assert!(r.push(b));
        }
        assert!(!r.push(5));
        assert_eq!(r.dropped(), 1);
        assert_eq!(r.pop(), Some(1));
        assert!(r.push(6));
        assert_eq!(
            [r.pop(), r.pop(), r.pop(), r.pop(), r.pop()],
            [Some(2), Some(3), Some(4), Some(6), None]
        );
        assert!(r.is_empty());
    }
}
