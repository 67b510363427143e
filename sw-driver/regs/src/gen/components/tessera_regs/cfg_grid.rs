// Generated from rtl/regs/tessera_regs.rdl by scripts/gen-regs. Do not edit.
//! Register: Build configuration: tile grid

#[allow(unused_imports)]
use super::_root; // alias to root module of generated code

/// Build configuration: tile grid
#[repr(transparent)]
#[derive(Copy, Clone, Eq, PartialEq)]
pub struct CfgGrid(u32);

unsafe impl Send for CfgGrid {}
unsafe impl Sync for CfgGrid {}

impl core::default::Default for CfgGrid {
    fn default() -> Self {
        Self(0x0)
    }
}

impl peakrdl_rust::reg::Register for CfgGrid {
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

impl CfgGrid {
    pub const ROWS_OFFSET: usize = 0;
    pub const ROWS_WIDTH: usize = 16;
    pub const ROWS_MASK: u32 = 0xFFFF;

    /// rows
    ///
    /// Tile rows R.
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn rows(&self) -> u16 {
        let val = (self.0 >> Self::ROWS_OFFSET) & Self::ROWS_MASK;
        val as u16
    }

    pub const COLS_OFFSET: usize = 16;
    pub const COLS_WIDTH: usize = 16;
    pub const COLS_MASK: u32 = 0xFFFF;

    /// cols
    ///
    /// Tile columns C.
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn cols(&self) -> u16 {
        let val = (self.0 >> Self::COLS_OFFSET) & Self::COLS_MASK;
        val as u16
    }
}

impl core::fmt::Debug for CfgGrid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CfgGrid")
            .field("rows", &self.rows())
            .field("cols", &self.cols())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_default() {
        let reg = CfgGrid::default();
        assert_eq!(reg.rows(), 0);
        assert_eq!(reg.cols(), 0);
    }
}
