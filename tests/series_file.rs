//! Sealed series files end to end: write many random series, read them back
//! every way, and damage the file everywhere.

use std::path::Path;

use runstore::series::{Encoding, SeriesFile, SeriesFileWriter, SeriesSummary};
use runstore::{Error, MetricPoint};

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SPECIAL: [u64; 7] = [
    0x7ff8_0000_0000_0000,
    0xfff8_0000_0000_0001,
    0x7ff0_0000_2000_0000,
    0x7ff0_0000_0000_0000,
    0xfff0_0000_0000_0000,
    0x8000_0000_0000_0000,
    0,
];

/// A history of `n` points in one of several shapes: training curves in
/// float32, wild f64s with special values, negative and repeated steps.
fn history(rng: &mut Rng, n: usize) -> Vec<MetricPoint> {
    let shape = rng.below(3);
    let mut ts = 1_700_000_000_000 + rng.below(1 << 20) as i64;
    (0..n as i64)
        .map(|i| {
            ts += rng.below(10) as i64;
            let value = match (shape, rng.below(8)) {
                (0, _) => (1.0 / (1.0 + i as f32) + rng.below(100) as f32 * 1e-4) as f64,
                (_, 0) => f64::from_bits(SPECIAL[rng.below(7) as usize]),
                (1, _) => f64::from_bits(rng.next()),
                _ => rng.below(1000) as f64 * 0.001,
            };
            let step = if shape == 2 {
                rng.below(7) as i64 - 3
            } else {
                i
            };
            MetricPoint {
                step,
                timestamp: ts,
                value,
            }
        })
        .collect()
}

fn same(a: &[MetricPoint], b: &[MetricPoint]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.step == y.step && x.timestamp == y.timestamp && x.value.to_bits() == y.value.to_bits()
        })
}

type Written = Vec<((u32, u32), Vec<MetricPoint>)>;

/// Writes `series` random series to `path`, returning what was written.
fn write_random(path: &Path, seed: u64, series: usize, max_len: u64) -> Written {
    let mut rng = Rng(seed);
    let mut written = Vec::new();
    let mut writer = SeriesFileWriter::create(path).unwrap();
    let mut id = (0u32, 0u32);
    for _ in 0..series {
        id = match rng.below(3) {
            0 => (id.0 + 1 + rng.below(3) as u32, rng.below(4) as u32),
            _ => (id.0, id.1 + 1 + rng.below(5) as u32),
        };
        let len = rng.below(max_len) as usize;
        let points = history(&mut rng, len);
        writer.add(id.0, id.1, &points).unwrap();
        written.push((id, points));
    }
    let stats = writer.finish().unwrap();
    assert_eq!(stats.series, series as u64);
    assert_eq!(stats.file_bytes, std::fs::metadata(path).unwrap().len());
    written
}

fn assert_reads_back(file: &SeriesFile, written: &Written) {
    assert_eq!(file.len(), written.len());
    let mut points = Vec::new();
    for ((run, key), expected) in written {
        let series = file.series(*run, *key).unwrap();
        series.read_into(&mut points).unwrap();
        assert!(same(&points, expected), "series ({run}, {key})");
        assert!(series.summary().same_bits(&SeriesSummary::of(expected)));

        match series.columns().unwrap() {
            Some(columns) => {
                assert!(series.encoding().is_raw());
                let borrowed: Vec<_> = (0..columns.len())
                    .map(|i| columns.point(i).unwrap())
                    .collect();
                assert!(same(&borrowed, expected));
            }
            None => assert!(!series.encoding().is_raw()),
        }
    }
    let listed: Vec<_> = file.iter().map(|(run, key, _)| (run, key)).collect();
    let ids: Vec<_> = written.iter().map(|(id, _)| *id).collect();
    assert_eq!(listed, ids);
}

#[test]
fn random_files_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    for seed in 1..6 {
        let path = dir.path().join(format!("s{seed}.series"));
        let written = write_random(&path, seed, 200, 400);
        let file = SeriesFile::open(&path).unwrap();
        assert_reads_back(&file, &written);
        file.check().unwrap();
        assert!(!dir.path().join(format!("s{seed}.series.tmp")).exists());
    }
}

#[test]
fn every_encoding_can_be_forced_and_borrowed_when_raw() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forced.series");
    let mut rng = Rng(99);
    let points = history(&mut rng, 5000);
    let mut writer = SeriesFileWriter::create(&path).unwrap();
    for (key, encoding) in Encoding::ALL.into_iter().enumerate() {
        writer
            .add_encoded(7, key as u32, &points, encoding)
            .unwrap();
    }
    writer.finish().unwrap();

    let file = SeriesFile::open(&path).unwrap();
    let written: Written = (0..Encoding::ALL.len() as u32)
        .map(|k| ((7, k), points.clone()))
        .collect();
    assert_reads_back(&file, &written);
    let raw = file.series(7, 0).unwrap().columns().unwrap().unwrap();
    assert_eq!(raw.steps.len(), 5000);
    assert_eq!(raw.values[4999].to_bits(), points[4999].value.to_bits());
    file.check().unwrap();
}

/// The file at `path` with its header's version set to `version` and the
/// header CRC redone.
fn with_version(path: &Path, version: u32) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[8..12].copy_from_slice(&version.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..24]);
    bytes[24..28].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn version_1_files_are_read_and_later_versions_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.series");
    let written = write_random(&path, 5, 40, 300);

    with_version(&path, 1);
    let file = SeriesFile::open(&path).unwrap();
    assert_reads_back(&file, &written);
    file.check().unwrap();
    drop(file);

    with_version(&path, 3);
    let error = SeriesFile::open(&path).unwrap_err().to_string();
    assert!(error.contains("unsupported series file version"), "{error}");
}

#[test]
fn missing_series_and_empty_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.series");
    SeriesFileWriter::create(&path).unwrap().finish().unwrap();
    let file = SeriesFile::open(&path).unwrap();
    assert!(file.is_empty() && file.series(0, 0).is_none());
    file.check().unwrap();

    let path = dir.path().join("one.series");
    let mut writer = SeriesFileWriter::create(&path).unwrap();
    writer.add(3, 4, &[]).unwrap();
    writer.finish().unwrap();
    let file = SeriesFile::open(&path).unwrap();
    assert!(file.series(3, 3).is_none() && file.series(4, 4).is_none());
    let series = file.series(3, 4).unwrap();
    assert_eq!(series.summary().count, 0);
    assert!(series.summary().latest.is_none());
    assert!(series.columns().unwrap().unwrap().is_empty());
}

#[test]
fn series_out_of_order_are_refused_and_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("order.series");
    let mut writer = SeriesFileWriter::create(&path).unwrap();
    writer.add(2, 5, &[]).unwrap();
    assert!(matches!(
        writer.add(2, 5, &[]),
        Err(Error::InvalidParameterValue(_))
    ));
    assert!(matches!(
        writer.add(1, 9, &[]),
        Err(Error::InvalidParameterValue(_))
    ));
    writer.add(2, 6, &[]).unwrap();
    drop(writer);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

fn is_corruption<T>(result: &runstore::Result<T>) -> bool {
    matches!(result, Err(Error::Corruption { .. }))
}

/// Whether damaged `bytes` are caught by open or check, while every read
/// that succeeds still returns the written points.
fn damage_is_caught(bytes: &[u8], written: &Written) -> bool {
    let file = match SeriesFile::from_bytes("damaged", bytes) {
        Ok(file) => file,
        Err(e) => return matches!(e, Error::Corruption { .. }),
    };
    let mut points = Vec::new();
    for (run, key, series) in file.iter() {
        let Some((_, expected)) = written.iter().find(|(id, _)| *id == (run, key)) else {
            continue;
        };
        match series.read_into(&mut points) {
            Ok(()) => assert!(same(&points, expected), "wrong data for ({run}, {key})"),
            Err(e) => assert!(matches!(e, Error::Corruption { .. })),
        }
    }
    is_corruption(&file.check())
}

#[test]
fn every_flipped_byte_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flip.series");
    let written = write_random(&path, 42, 12, 60);
    let bytes = std::fs::read(&path).unwrap();
    for at in 0..bytes.len() {
        for mask in [0x01, 0x80] {
            let mut damaged = bytes.clone();
            damaged[at] ^= mask;
            assert!(
                damage_is_caught(&damaged, &written),
                "flip {mask:#x} at {at}"
            );
        }
    }
}

#[test]
fn every_truncation_is_caught_by_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.series");
    write_random(&path, 7, 12, 60);
    let bytes = std::fs::read(&path).unwrap();
    for cut in 0..bytes.len() {
        assert!(
            is_corruption(&SeriesFile::from_bytes("cut", &bytes[..cut])),
            "cut {cut}"
        );
    }

    let cut_path = dir.path().join("cut-on-disk.series");
    for cut in [0, 31, 32, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&cut_path, &bytes[..cut]).unwrap();
        assert!(is_corruption(&SeriesFile::open(&cut_path)), "cut {cut}");
    }
}

#[test]
fn damaged_block_on_disk_fails_its_reads_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("block.series");
    let mut writer = SeriesFileWriter::create(&path).unwrap();
    let points: Vec<_> = (0..100)
        .map(|i| MetricPoint {
            step: i,
            timestamp: i * 10,
            value: i as f64,
        })
        .collect();
    writer.add_encoded(0, 0, &points, Encoding::Raw).unwrap();
    writer
        .add_encoded(0, 1, &points, Encoding::PackedLz4)
        .unwrap();
    writer.finish().unwrap();

    let mut bytes = std::fs::read(&path).unwrap();
    bytes[32 + 8 * 150] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let file = SeriesFile::open(&path).unwrap();
    let damaged = file.series(0, 0).unwrap();
    assert!(is_corruption(&damaged.columns()));
    assert!(is_corruption(&damaged.read_into(&mut Vec::new())));
    let mut intact = Vec::new();
    file.series(0, 1).unwrap().read_into(&mut intact).unwrap();
    assert!(same(&intact, &points));
    match file.check() {
        Err(Error::Corruption { offset, .. }) => assert_eq!(offset, 32),
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn open_files_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<SeriesFile>();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.series");
    let written = write_random(&path, 3, 50, 100);
    let file = SeriesFile::open(&path).unwrap();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| assert_reads_back(&file, &written));
        }
    });
}
