// Generated from rtl/regs/tessera_regs.rdl by scripts/gen-regs. Do not edit.
//! Register: ECC: corrected errors

#[allow(unused_imports)]
use super::_root; // alias to root module of generated code

/// ECC: corrected errors
///
/// Single-bit errors corrected by SECDED in the tiles' weight memories and the token
/// engine's program and data memories since power-on (a soft reset keeps it); saturates at
/// 2^32 - 1.
#[repr(transparent)]
#[derive(Copy, Clone, Eq, PartialEq)]
pub struct EccCorrected(u32);

unsafe impl Send for EccCorrected {}
unsafe impl Sync for EccCorrected {}

impl core::default::Default for EccCorrected {
    fn default() -> Self {
        Self(0x0)
    }
}

impl peakrdl_rust::reg::Register for EccCorrected {
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

impl EccCorrected {
    pub const COUNT_OFFSET: usize = 0;
    pub const COUNT_WIDTH: usize = 32;
    pub const COUNT_MASK: u32 = 0xFFFF_FFFF;

    /// count
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn count(&self) -> u32 {
        let val = (self.0 >> Self::COUNT_OFFSET) & Self::COUNT_MASK;
        val
    }
}

impl core::fmt::Debug for EccCorrected {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EccCorrected")
            .field("count", &self.count())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_default() {
        let reg = EccCorrected::default();
        assert_eq!(reg.count(), 0);
    }
}
