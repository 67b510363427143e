// Generated from rtl/regs/tessera_regs.rdl by scripts/gen-regs. Do not edit.
//! Register: Build configuration: activation buffer chunks

#[allow(unused_imports)]
use super::_root; // alias to root module of generated code

/// Build configuration: activation buffer chunks
///
/// Depth of the activation (int8 input vector) buffer in chunks of KWidth int8 elements;
/// VBUF_LOAD and MATVEC address it in chunks.
#[repr(transparent)]
#[derive(Copy, Clone, Eq, PartialEq)]
pub struct CfgAbufWords(u32);

unsafe impl Send for CfgAbufWords {}
unsafe impl Sync for CfgAbufWords {}

impl core::default::Default for CfgAbufWords {
    fn default() -> Self {
        Self(0x0)
    }
}

impl peakrdl_rust::reg::Register for CfgAbufWords {
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

impl CfgAbufWords {
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

impl core::fmt::Debug for CfgAbufWords {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CfgAbufWords")
            .field("chunks", &self.chunks())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_default() {
        let reg = CfgAbufWords::default();
        assert_eq!(reg.chunks(), 0);
    }
}
