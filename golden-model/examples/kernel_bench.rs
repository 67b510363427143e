//! The int8 matrix-vector kernel (`quant::matvec_i32`) alone, on the matrix shapes of
//! SmolLM2-135M (hidden 576, intermediate 1536, vocabulary 49,152) and of Llama 3.1 8B
//! (4096 × 4096, 14336 × 4096). Each shape is held in enough copies (≥ 64 MB together) that
//! every product reads its weights from memory, as in a model, not from cache. Prints the
//! median time per product and the weight bytes streamed per second.
//!
//! `cargo run --release -p tessera-golden --example kernel_bench [-- MIN_REPS]`
//! (`RAYON_NUM_THREADS=1` for one core; `-- --help` for the options).

use std::time::Instant;

use clap::Parser;
use tessera_golden::quant::matvec_i32;

/// Times the int8 matrix-vector kernel alone on SmolLM2-135M and Llama 3.1 8B matrix shapes,
/// with the weights read from memory. Set RAYON_NUM_THREADS=1 to time one core.
#[derive(Debug, Parser)]
struct Args {
    /// Fewest products timed per shape. Each shape runs enough products to stream at least
    /// 400 MB of weights, and at least this many; the median time is printed.
    #[arg(value_name = "MIN_REPS", default_value_t = 5)]
    min_reps: usize,
}

const SHAPES: [(usize, usize); 6] = [
    (576, 576),
    (1536, 576),
    (576, 1536),
    (49_152, 576),
    (4096, 4096),
    (14_336, 4096),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let min_reps = Args::parse().min_reps;
    println!("threads {}", rayon::current_num_threads());
    for (rows, k) in SHAPES {
        let n = rows * k;
        let copies = (64_000_000 / n).max(1);
        let ws: Vec<Vec<i8>> = (0..copies)
            .map(|c| (0..n).map(|i| ((i + c) * 7 % 251) as i8).collect())
            .collect();
        let x: Vec<i8> = (0..k).map(|i| (i * 3 % 127) as i8).collect();
        let mut out = vec![0i32; rows];
        let reps = (400_000_000 / n).max(min_reps);
        let mut times: Vec<f64> = (0..reps)
            .map(|i| {
                let t = Instant::now();
                matvec_i32(&ws[i % copies], rows, k, &x, &mut out);
                t.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "{rows:>6} x {k:<5}: median {:8.1} us, {:5.1} GB/s ({reps} products)",
            median * 1e6,
            n as f64 / median / 1e9
        );
    }
    Ok(())
}
