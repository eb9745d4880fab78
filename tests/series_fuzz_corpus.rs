//! Runs the series fuzz target's entry point over a seed corpus built here:
//! valid files, every truncation and many byte flips. It must never panic,
//! must read every series of a valid file and none of a cut one.

use runstore::MetricPoint;
use runstore::series::{Encoding, SeriesFileWriter, fuzz_series_file};

fn seeds() -> Vec<(usize, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let mut seeds = Vec::new();
    for (i, len) in [0usize, 1, 40, 300].into_iter().enumerate() {
        let path = dir.path().join(format!("seed{i}.series"));
        let mut writer = SeriesFileWriter::create(&path).unwrap();
        let points: Vec<_> = (0..len as i64)
            .map(|s| MetricPoint {
                step: s,
                timestamp: 1000 + s * 3,
                value: if s % 17 == 0 {
                    f64::NAN
                } else {
                    (s as f32 * 0.5) as f64
                },
            })
            .collect();
        for (key, encoding) in Encoding::ALL.into_iter().enumerate() {
            writer
                .add_encoded(i as u32, key as u32, &points, encoding)
                .unwrap();
        }
        writer.add(i as u32 + 1, 0, &points).unwrap();
        writer.finish().unwrap();
        seeds.push((Encoding::ALL.len() + 1, std::fs::read(&path).unwrap()));
    }
    seeds
}

#[test]
fn valid_seeds_read_every_series() {
    for (series, bytes) in seeds() {
        assert_eq!(fuzz_series_file(&bytes), series);
    }
}

#[test]
fn cut_seeds_read_nothing_and_flipped_seeds_do_not_panic() {
    for (series, bytes) in seeds() {
        for cut in 0..bytes.len() {
            assert_eq!(fuzz_series_file(&bytes[..cut]), 0, "cut at {cut}");
        }
        for at in (0..bytes.len()).step_by(3) {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0xff;
            assert!(fuzz_series_file(&flipped) <= series);
        }
    }
}
