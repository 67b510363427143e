//! The transport between the driver and a chip: AXI4-Lite registers, the AXI4-Stream ports and
//! the interrupt line, plus an optional simulation capability.
//!
//! Timeouts are given in device clock cycles; a transport without a cycle count (a board)
//! converts them to wall-clock time at its clock frequency.

use crate::error::Result;

/// Beats received from the output stream: `words` holds `beat_words` 32-bit words per beat
/// (little-endian lanes, word `i` at bits `[32i+31:32i]`), `last` the `tlast` of each beat.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Received {
    pub words: Vec<u32>,
    pub last: Vec<bool>,
}

/// Register, stream and interrupt access to one chip.
pub trait Transport {
    /// Stream width in bits (`tdata`).
    fn stream_width(&self) -> usize;

    /// AXI4-Lite read of the 32-bit register at byte offset `addr`; SLVERR is an error.
    fn reg_read(&mut self, addr: u32) -> Result<u32>;

    /// AXI4-Lite write; SLVERR is an error.
    fn reg_write(&mut self, addr: u32, value: u32) -> Result<()>;

    /// Sends `words` on the input stream as `words.len() / beat_words` beats, `tlast` on the
    /// final beat when `tlast` is set; returns once the chip has taken every beat.
    /// `words.len()` must be a whole number of beats.
    fn stream_send(&mut self, words: &[u32], tlast: bool, timeout_cycles: u64) -> Result<()>;

    /// Receives exactly `beats` beats from the output stream (a timeout error otherwise).
    fn stream_recv(&mut self, beats: usize, timeout_cycles: u64) -> Result<Received>;

    /// Waits for the interrupt line; `Ok(false)` when it stayed low for `timeout_cycles`.
    fn wait_irq(&mut self, timeout_cycles: u64) -> Result<bool>;

    /// Lets the chip run for about `cycles` cycles (a simulator steps its clock, a board
    /// sleeps).
    fn idle(&mut self, cycles: u64) -> Result<()>;

    /// Simulation-only controls, when the transport is a simulator.
    fn sim(&mut self) -> Option<&mut dyn SimControl> {
        None
    }
}

/// A borrowed transport is a transport (so a caller keeps it, and its counters, after lending
/// it to code that takes a transport by value).
impl<T: Transport + ?Sized> Transport for &mut T {
    fn stream_width(&self) -> usize {
        (**self).stream_width()
    }
    fn reg_read(&mut self, addr: u32) -> Result<u32> {
        (**self).reg_read(addr)
    }
    fn reg_write(&mut self, addr: u32, value: u32) -> Result<()> {
        (**self).reg_write(addr, value)
    }
    fn stream_send(&mut self, words: &[u32], tlast: bool, timeout_cycles: u64) -> Result<()> {
        (**self).stream_send(words, tlast, timeout_cycles)
    }
    fn stream_recv(&mut self, beats: usize, timeout_cycles: u64) -> Result<Received> {
        (**self).stream_recv(beats, timeout_cycles)
    }
    fn wait_irq(&mut self, timeout_cycles: u64) -> Result<bool> {
        (**self).wait_irq(timeout_cycles)
    }
    fn idle(&mut self, cycles: u64) -> Result<()> {
        (**self).idle(cycles)
    }
    fn sim(&mut self) -> Option<&mut dyn SimControl> {
        (**self).sim()
    }
}

/// What only a simulator can do.
pub trait SimControl {
    /// Writes whole weight words (`word_bytes` bytes each, byte `l·KWidth + j` = lane `l`,
    /// element `j`) into tile `tile`'s weight memory from word `addr` on, bypassing the ports.
    fn backdoor_write(
        &mut self,
        tile: usize,
        addr: usize,
        word_bytes: usize,
        data: &[u8],
    ) -> Result<()>;

    /// Reads `words` weight words of tile `tile` from word `addr` on.
    fn backdoor_read(
        &mut self,
        tile: usize,
        addr: usize,
        words: usize,
        word_bytes: usize,
    ) -> Result<Vec<u8>>;

    /// Writes 32-bit words into the token engine's data memory (DMEM) from word `word` on,
    /// bypassing the ports (each stored with its check bits); `word` and the count are whole
    /// rows of the memory's banks (`StreamWidth / 32` words).
    fn dmem_backdoor_write(&mut self, word: usize, words: &[u32]) -> Result<()>;

    /// Clock cycles since power-on.
    fn cycles(&mut self) -> Result<u64>;
}

pub use tessera_abi::bytes_to_words;

/// What a [`Counting`] transport has carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    pub reg_reads: u64,
    pub reg_writes: u64,
    /// Bytes of the input-stream beats sent.
    pub stream_to_chip: u64,
    /// Bytes of the output-stream beats received.
    pub stream_from_chip: u64,
}

impl Traffic {
    /// Bytes a register access is counted as: a 32-bit address and a 32-bit data word (the
    /// responses, two bits on AXI4-Lite, are not counted).
    pub const REG_ACCESS_BYTES: u64 = 8;

    /// Register reads and writes.
    pub fn reg_accesses(&self) -> u64 {
        self.reg_reads + self.reg_writes
    }

    /// Every byte both ways: stream beats and register accesses.
    pub fn bytes(&self) -> u64 {
        self.stream_to_chip + self.stream_from_chip + Self::REG_ACCESS_BYTES * self.reg_accesses()
    }

    /// `self − earlier`, count by count.
    pub fn since(&self, earlier: &Traffic) -> Traffic {
        Traffic {
            reg_reads: self.reg_reads - earlier.reg_reads,
            reg_writes: self.reg_writes - earlier.reg_writes,
            stream_to_chip: self.stream_to_chip - earlier.stream_to_chip,
            stream_from_chip: self.stream_from_chip - earlier.stream_from_chip,
        }
    }
}

/// A transport that counts what crosses it ([`Traffic`]): every register access the driver
/// makes and every stream byte, whatever the layer above does.
pub struct Counting<T> {
    pub inner: T,
    traffic: Traffic,
}

impl<T: Transport> Counting<T> {
    pub fn new(inner: T) -> Counting<T> {
        Counting {
            inner,
            traffic: Traffic::default(),
        }
    }

    /// Everything carried since the transport was made.
    pub fn traffic(&self) -> Traffic {
        self.traffic
    }
}

impl<T: Transport> Transport for Counting<T> {
    fn stream_width(&self) -> usize {
        self.inner.stream_width()
    }
    fn reg_read(&mut self, addr: u32) -> Result<u32> {
        self.traffic.reg_reads += 1;
        self.inner.reg_read(addr)
    }
    fn reg_write(&mut self, addr: u32, value: u32) -> Result<()> {
        self.traffic.reg_writes += 1;
        self.inner.reg_write(addr, value)
    }
    fn stream_send(&mut self, words: &[u32], tlast: bool, timeout_cycles: u64) -> Result<()> {
        self.inner.stream_send(words, tlast, timeout_cycles)?;
        self.traffic.stream_to_chip += 4 * words.len() as u64;
        Ok(())
    }
    fn stream_recv(&mut self, beats: usize, timeout_cycles: u64) -> Result<Received> {
        let rx = self.inner.stream_recv(beats, timeout_cycles)?;
        self.traffic.stream_from_chip += (rx.last.len() * self.inner.stream_width() / 8) as u64;
        Ok(rx)
    }
    fn wait_irq(&mut self, timeout_cycles: u64) -> Result<bool> {
        self.inner.wait_irq(timeout_cycles)
    }
    fn idle(&mut self, cycles: u64) -> Result<()> {
        self.inner.idle(cycles)
    }
    fn sim(&mut self) -> Option<&mut dyn SimControl> {
        self.inner.sim()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::EngineChip;
    use crate::ChipConfig;

    #[test]
    fn counting_transport_counts_registers_and_beats() {
        let cfg = ChipConfig::named("tiny").unwrap();
        let mut t = Counting::new(EngineChip::new(&cfg));
        let mut dev = crate::Device::open(&mut t).unwrap();
        let opened = dev.transport().traffic();
        assert!(
            opened.reg_reads > 0,
            "discovery reads the ID and CFG registers"
        );
        assert_eq!(
            opened.reg_writes + opened.stream_to_chip + opened.stream_from_chip,
            0
        );
        dev.set_scratch(5).unwrap();
        assert_eq!(dev.scratch().unwrap(), 5);
        // One FENCE: a header of eight words (four 64-bit beats).
        dev.send(&[crate::program::Descriptor::fence()]).unwrap();
        let d = dev.transport().traffic().since(&opened);
        assert_eq!((d.reg_reads, d.reg_writes), (1, 1));
        assert_eq!((d.stream_to_chip, d.stream_from_chip), (32, 0));
        assert_eq!(d.bytes(), 32 + 2 * Traffic::REG_ACCESS_BYTES);
    }
}
