// Generated from rtl/regs/tessera_regs.rdl by scripts/gen-regs. Do not edit.
//! Register: Build configuration: vector buffer words

#[allow(unused_imports)]
use super::_root; // alias to root module of generated code

/// Build configuration: vector buffer words
///
/// Size of the on-chip vector buffer in 32-bit words: the activation buffer
/// (CFG_ABUF_WORDS x KWidth / 4) plus the result buffer (CFG_RBUF_WORDS x Lanes).
#[repr(transparent)]
#[derive(Copy, Clone, Eq, PartialEq)]
pub struct CfgVbufWords(u32);

unsafe impl Send for CfgVbufWords {}
unsafe impl Sync for CfgVbufWords {}

impl core::default::Default for CfgVbufWords {
    fn default() -> Self {
        Self(0x0)
    }
}

impl peakrdl_rust::reg::Register for CfgVbufWords {
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

impl CfgVbufWords {
    pub const WORDS_OFFSET: usize = 0;
    pub const WORDS_WIDTH: usize = 32;
    pub const WORDS_MASK: u32 = 0xFFFF_FFFF;

    /// words
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn words(&self) -> u32 {
        let val = (self.0 >> Self::WORDS_OFFSET) & Self::WORDS_MASK;
        val
    }
}

impl core::fmt::Debug for CfgVbufWords {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CfgVbufWords")
            .field("words", &self.words())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_default() {
        let reg = CfgVbufWords::default();
        assert_eq!(reg.words(), 0);
    }
}
