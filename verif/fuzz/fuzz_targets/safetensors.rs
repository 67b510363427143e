//! A `model.safetensors` file into `SafetensorsFile::open`, then every tensor it lists read as
//! f32: errors, never a panic, an unbounded allocation or a read outside the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_golden::checkpoint::SafetensorsFile;

fuzz_target!(|data: &[u8]| {
    let path = tessera_fuzz::put("model.safetensors", Some(data));
    let Ok(f) = SafetensorsFile::open(&path) else {
        return;
    };
    for (name, info) in f.tensors.iter().take(64) {
        assert!(
            info.begin <= info.end && info.end <= data.len(),
            "{name}: range past the file"
        );
        let _ = f.tensor_f32(name, &info.shape);
    }
});
