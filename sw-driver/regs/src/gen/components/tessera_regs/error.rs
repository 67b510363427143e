// Generated from rtl/regs/tessera_regs.rdl by scripts/gen-regs. Do not edit.
//! Register: Error

#[allow(unused_imports)]
use super::_root; // alias to root module of generated code

/// Error
///
/// The first error since the last soft reset. Codes are listed in docs/architecture.md.
#[repr(transparent)]
#[derive(Copy, Clone, Eq, PartialEq)]
pub struct Error(u32);

unsafe impl Send for Error {}
unsafe impl Sync for Error {}

impl core::default::Default for Error {
    fn default() -> Self {
        Self(0x0)
    }
}

impl peakrdl_rust::reg::Register for Error {
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

impl Error {
    pub const CODE_OFFSET: usize = 0;
    pub const CODE_WIDTH: usize = 8;
    pub const CODE_MASK: u32 = 0xFF;

    /// code
    ///
    /// Error code; 0 means no error.
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn code(&self) -> u8 {
        let val = (self.0 >> Self::CODE_OFFSET) & Self::CODE_MASK;
        val as u8
    }

    pub const DESCRIPTOR_OFFSET: usize = 8;
    pub const DESCRIPTOR_WIDTH: usize = 24;
    pub const DESCRIPTOR_MASK: u32 = 0xFF_FFFF;

    /// descriptor
    ///
    /// Index of the descriptor that failed.
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn descriptor(&self) -> u32 {
        let val = (self.0 >> Self::DESCRIPTOR_OFFSET) & Self::DESCRIPTOR_MASK;
        val
    }
}

impl core::fmt::Debug for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Error")
            .field("code", &self.code())
            .field("descriptor", &self.descriptor())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_default() {
        let reg = Error::default();
        assert_eq!(reg.code(), 0);
        assert_eq!(reg.descriptor(), 0);
    }
}
