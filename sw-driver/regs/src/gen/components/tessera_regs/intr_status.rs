// Generated from rtl/regs/tessera_regs.rdl by scripts/gen-regs. Do not edit.
//! Register: Interrupt status

#[allow(unused_imports)]
use super::_root; // alias to root module of generated code

/// Interrupt status
///
/// Each bit is set by hardware and cleared by writing 1. The interrupt line is the OR
/// of the bits enabled in INTR_ENABLE.
#[repr(transparent)]
#[derive(Copy, Clone, Eq, PartialEq)]
pub struct IntrStatus(u32);

unsafe impl Send for IntrStatus {}
unsafe impl Sync for IntrStatus {}

impl core::default::Default for IntrStatus {
    fn default() -> Self {
        Self(0x0)
    }
}

impl peakrdl_rust::reg::Register for IntrStatus {
    type Regwidth = u32;
    type Accesswidth = u32;
    type Access = peakrdl_rust::access::RW;
    type ByteEndian = peakrdl_rust::endian::LittleEndian;
    type WordEndian = peakrdl_rust::endian::LittleEndian;

    unsafe fn from_raw(val: Self::Regwidth) -> Self {
        Self(val)
    }

    fn to_raw(self) -> Self::Regwidth {
        self.0
    }
}

impl IntrStatus {
    pub const DONE_OFFSET: usize = 0;
    pub const DONE_WIDTH: usize = 1;
    pub const DONE_MASK: u32 = 0x1;

    /// done
    ///
    /// A FENCE descriptor completed.
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn done(&self) -> bool {
        let val = (self.0 >> Self::DONE_OFFSET) & Self::DONE_MASK;
        val != 0
    }

    /// done
    ///
    /// A FENCE descriptor completed.
    #[inline(always)]
    pub fn set_done(&mut self, val: bool) {
        let val = val as u32;
        self.0 = (self.0 & !(Self::DONE_MASK << Self::DONE_OFFSET))
            | ((val & Self::DONE_MASK) << Self::DONE_OFFSET);
    }

    pub const ERROR_OFFSET: usize = 1;
    pub const ERROR_WIDTH: usize = 1;
    pub const ERROR_MASK: u32 = 0x1;

    /// error
    ///
    /// An error stopped the command processor.
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn error(&self) -> bool {
        let val = (self.0 >> Self::ERROR_OFFSET) & Self::ERROR_MASK;
        val != 0
    }

    /// error
    ///
    /// An error stopped the command processor.
    #[inline(always)]
    pub fn set_error(&mut self, val: bool) {
        let val = val as u32;
        self.0 = (self.0 & !(Self::ERROR_MASK << Self::ERROR_OFFSET))
            | ((val & Self::ERROR_MASK) << Self::ERROR_OFFSET);
    }
}

impl core::fmt::Debug for IntrStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IntrStatus")
            .field("done", &self.done())
            .field("error", &self.error())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_default() {
        let reg = IntrStatus::default();
        assert_eq!(reg.done(), false);
        assert_eq!(reg.error(), false);
    }
}
