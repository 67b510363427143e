// Generated from rtl/regs/tessera_regs.rdl by scripts/gen-regs. Do not edit.
//! Register: Interrupt enable

#[allow(unused_imports)]
use super::_root; // alias to root module of generated code

/// Interrupt enable
#[repr(transparent)]
#[derive(Copy, Clone, Eq, PartialEq)]
pub struct IntrEnable(u32);

unsafe impl Send for IntrEnable {}
unsafe impl Sync for IntrEnable {}

impl core::default::Default for IntrEnable {
    fn default() -> Self {
        Self(0x0)
    }
}

impl peakrdl_rust::reg::Register for IntrEnable {
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

impl IntrEnable {
    pub const DONE_OFFSET: usize = 0;
    pub const DONE_WIDTH: usize = 1;
    pub const DONE_MASK: u32 = 0x1;

    /// done
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn done(&self) -> bool {
        let val = (self.0 >> Self::DONE_OFFSET) & Self::DONE_MASK;
        val != 0
    }

    /// done
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
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn error(&self) -> bool {
        let val = (self.0 >> Self::ERROR_OFFSET) & Self::ERROR_MASK;
        val != 0
    }

    /// error
    #[inline(always)]
    pub fn set_error(&mut self, val: bool) {
        let val = val as u32;
        self.0 = (self.0 & !(Self::ERROR_MASK << Self::ERROR_OFFSET))
            | ((val & Self::ERROR_MASK) << Self::ERROR_OFFSET);
    }
}

impl core::fmt::Debug for IntrEnable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IntrEnable")
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
        let reg = IntrEnable::default();
        assert_eq!(reg.done(), false);
        assert_eq!(reg.error(), false);
    }
}
