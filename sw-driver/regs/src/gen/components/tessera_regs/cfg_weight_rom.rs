// Generated from rtl/regs/tessera_regs.rdl by scripts/gen-regs. Do not edit.
//! Register: Build configuration: weights in ROM

#[allow(unused_imports)]
use super::_root; // alias to root module of generated code

/// Build configuration: weights in ROM
///
/// 1 when the tiles' weight memories are ROMs whose contents were fixed at build time
/// from an image (docs/architecture.md, "Weights in ROM"): WEIGHT_LOAD then fails with
/// ERROR.code 0x13 and WEIGHT_ROM_DIGEST names the image.
#[repr(transparent)]
#[derive(Copy, Clone, Eq, PartialEq)]
pub struct CfgWeightRom(u32);

unsafe impl Send for CfgWeightRom {}
unsafe impl Sync for CfgWeightRom {}

impl core::default::Default for CfgWeightRom {
    fn default() -> Self {
        Self(0x0)
    }
}

impl peakrdl_rust::reg::Register for CfgWeightRom {
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

impl CfgWeightRom {
    pub const ROM_OFFSET: usize = 0;
    pub const ROM_WIDTH: usize = 1;
    pub const ROM_MASK: u32 = 0x1;

    /// rom
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn rom(&self) -> bool {
        let val = (self.0 >> Self::ROM_OFFSET) & Self::ROM_MASK;
        val != 0
    }
}

impl core::fmt::Debug for CfgWeightRom {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CfgWeightRom")
            .field("rom", &self.rom())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_default() {
        let reg = CfgWeightRom::default();
        assert_eq!(reg.rom(), false);
    }
}
