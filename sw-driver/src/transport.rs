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

    /// Clock cycles since power-on.
    fn cycles(&mut self) -> Result<u64>;
}

pub use tessera_abi::bytes_to_words;
