// Generated from rtl/regs/tessera_regs.rdl by scripts/gen-regs. Do not edit.
//! Register: Digest of the weight ROM image

#[allow(unused_imports)]
use super::_root; // alias to root module of generated code

/// Digest of the weight ROM image
///
/// FNV-1a (32 bits) of the data bytes of every tile's weight words, tile 0 first, word 0
/// first, all WeightWords words of each tile (`tessera rom-image` computes it); 0 when
/// CFG_WEIGHT_ROM.rom is 0. The driver refuses to run a model whose weights have another digest.
#[repr(transparent)]
#[derive(Copy, Clone, Eq, PartialEq)]
pub struct WeightRomDigest(u32);

unsafe impl Send for WeightRomDigest {}
unsafe impl Sync for WeightRomDigest {}

impl core::default::Default for WeightRomDigest {
    fn default() -> Self {
        Self(0x0)
    }
}

impl peakrdl_rust::reg::Register for WeightRomDigest {
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

impl WeightRomDigest {
    pub const VALUE_OFFSET: usize = 0;
    pub const VALUE_WIDTH: usize = 32;
    pub const VALUE_MASK: u32 = 0xFFFF_FFFF;

    /// value
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn value(&self) -> u32 {
        let val = (self.0 >> Self::VALUE_OFFSET) & Self::VALUE_MASK;
        val
    }
}

impl core::fmt::Debug for WeightRomDigest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WeightRomDigest")
            .field("value", &self.value())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_default() {
        let reg = WeightRomDigest::default();
        assert_eq!(reg.value(), 0);
    }
}
