//! Reads from a sealed series file: one 1,000,000-point series borrowed in
//! place (raw) and decoded into a reused buffer (compressed), and 100 series
//! of 1,000 points of one key. Prints the bytes per point of a float32-style
//! training curve (steps 0, 1, 2, ..., timestamps a few ms apart).
//!
//! `cargo bench --bench series_file`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use runstore::MetricPoint;
use runstore::series::{Encoding, SeriesFile, SeriesFileWriter};

/// A float32 loss curve with noise, logged every 1..=8 ms.
fn curve(len: usize, seed: u64) -> Vec<MetricPoint> {
    let mut state = seed | 1;
    let mut timestamp = 1_733_220_000_000;
    (0..len as i64)
        .map(|step| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            timestamp += 1 + (state % 8) as i64;
            let noise = (state >> 40) as f32 / (1u64 << 24) as f32 * 0.01;
            let value = 2.0 / (1.0 + step as f32 * 0.001) + noise;
            MetricPoint {
                step,
                timestamp,
                value: f64::from(value),
            }
        })
        .collect()
}

fn reads(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.series");
    let big = curve(1_000_000, 7);
    let mut writer = SeriesFileWriter::create(&path).expect("create");
    writer.add_encoded(0, 0, &big, Encoding::Raw).expect("raw");
    writer.add(0, 1, &big).expect("compressed");
    writer
        .add_encoded(0, 2, &big, Encoding::Packed)
        .expect("packed");
    for run in 1..=100 {
        writer
            .add(run, 5, &curve(1000, u64::from(run)))
            .expect("small");
    }
    let stats = writer.finish().expect("finish");
    let file = SeriesFile::open(&path).expect("open");

    let compressed = file.series(0, 1).expect("series");
    let per_point = compressed.block_len() as f64 / 1e6;
    let packed = file.series(0, 2).expect("series").block_len() as f64 / 1e6;
    let raw = file.series(0, 0).expect("series").block_len() as f64 / 1e6;
    eprintln!(
        "float32 curve, 1M points, bytes/point: raw {raw:.3}, packed (no lz4) {packed:.3}, \
         smallest {per_point:.3}"
    );
    eprintln!(
        "float32 curve, 1M points: {:?}, {per_point:.3} bytes/point; whole file: {:.3} \
         block bytes/point over {} points",
        compressed.encoding(),
        stats.block_bytes_per_point(),
        stats.points
    );

    let mut group = c.benchmark_group("series_file");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Elements(1_000_000));
    group.bench_function("1M points, borrowed columns, sum of values", |b| {
        b.iter(|| {
            let series = file.series(0, 0).expect("series");
            let columns = series.columns().expect("read").expect("raw");
            black_box(columns.values.iter().sum::<f64>())
        })
    });
    let mut buffer = Vec::new();
    group.bench_function("1M points, compressed, decoded into a reused buffer", |b| {
        b.iter(|| {
            let series = file.series(0, 1).expect("series");
            series.read_into(&mut buffer).expect("read");
            black_box(buffer.len())
        })
    });
    group.throughput(Throughput::Elements(100_000));
    group.bench_function("100 series x 1000 points of one key", |b| {
        b.iter(|| {
            let mut total = 0;
            for run in 1..=100 {
                let series = file.series(run, 5).expect("series");
                series.read_into(&mut buffer).expect("read");
                total += buffer.len();
            }
            black_box(total)
        })
    });
    group.finish();
}

criterion_group!(benches, reads);
criterion_main!(benches);
