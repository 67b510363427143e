// Generated from rtl/regs/tessera_regs.rdl by scripts/gen-regs. Do not edit.
//! Register: Build configuration: activation buffer chunks per tile

#[allow(unused_imports)]
use super::_root; // alias to root module of generated code

/// Build configuration: activation buffer chunks per tile
///
/// Largest K a tile accepts is this value times KWidth.
#[repr(transparent)]
#[derive(Copy, Clone, Eq, PartialEq)]
pub struct CfgActWords(u32);

unsafe impl Send for CfgActWords {}
unsafe impl Sync for CfgActWords {}

impl core::default::Default for CfgActWords {
    fn default() -> Self {
        Self(0x0)
    }
}

impl peakrdl_rust::reg::Register for CfgActWords {
    type Regwidth = u32;
    type Accesswidth = u32;
    type Access = peakrdl_rust::access::R;
    type ByteEndian = peakrdl_rust::endian::LittleEndian;
    type WordEndian = peakrdl_rust::endian::LittleEndian;

    unsafe fn from_raw(val: Self::Regwidth) -> Self {
        Self(val)
    }

    fn to_raw(self) -> Self::Regwidth {
        self.0
    }
}

impl CfgActWords {
    pub const CHUNKS_OFFSET: usize = 0;
    pub const CHUNKS_WIDTH: usize = 32;
    pub const CHUNKS_MASK: u32 = 0xFFFF_FFFF;

    /// chunks
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn chunks(&self) -> u32 {
        let val = (self.0 >> Self::CHUNKS_OFFSET) & Self::CHUNKS_MASK;
        val
    }
}

impl core::fmt::Debug for CfgActWords {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CfgActWords")
            .field("chunks", &self.chunks())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_default() {
        let reg = CfgActWords::default();
        assert_eq!(reg.chunks(), 0);
    }
}
