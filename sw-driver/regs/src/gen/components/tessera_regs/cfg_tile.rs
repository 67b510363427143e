// Generated from rtl/regs/tessera_regs.rdl by scripts/gen-regs. Do not edit.
//! Register: Build configuration: MAC array

#[allow(unused_imports)]
use super::_root; // alias to root module of generated code

/// Build configuration: MAC array
#[repr(transparent)]
#[derive(Copy, Clone, Eq, PartialEq)]
pub struct CfgTile(u32);

unsafe impl Send for CfgTile {}
unsafe impl Sync for CfgTile {}

impl core::default::Default for CfgTile {
    fn default() -> Self {
        Self(0x0)
    }
}

impl peakrdl_rust::reg::Register for CfgTile {
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

impl CfgTile {
    pub const LANES_OFFSET: usize = 0;
    pub const LANES_WIDTH: usize = 16;
    pub const LANES_MASK: u32 = 0xFFFF;

    /// lanes
    ///
    /// Output rows per MAC step (Lanes).
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn lanes(&self) -> u16 {
        let val = (self.0 >> Self::LANES_OFFSET) & Self::LANES_MASK;
        val as u16
    }

    pub const K_WIDTH_OFFSET: usize = 16;
    pub const K_WIDTH_WIDTH: usize = 16;
    pub const K_WIDTH_MASK: u32 = 0xFFFF;

    /// k_width
    ///
    /// int8 elements per activation chunk (KWidth).
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn k_width(&self) -> u16 {
        let val = (self.0 >> Self::K_WIDTH_OFFSET) & Self::K_WIDTH_MASK;
        val as u16
    }
}

impl core::fmt::Debug for CfgTile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CfgTile")
            .field("lanes", &self.lanes())
            .field("k_width", &self.k_width())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_default() {
        let reg = CfgTile::default();
        assert_eq!(reg.lanes(), 0);
        assert_eq!(reg.k_width(), 0);
    }
}
