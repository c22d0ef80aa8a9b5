//! CSV reading: the missing-marker rule, column order, pass-through columns, gzip, and one test
//! per kind of bad input (each error names the row and column).

use std::io::Write;

use pgmkit::data::csv::{
    read_csv, read_csv_path, write_atomic_with, write_completed, CsvOptions, ExtraColumns,
};
use pgmkit::data::MISSING;
use pgmkit::{BayesNet, BayesNetBuilder, DataErrorKind, Error};

fn net() -> BayesNet {
    let mut b = BayesNetBuilder::new();
    let a = b.add_variable("a", ["yes", "no"]).unwrap();
    let c = b.add_variable("c", ["None", "Low", "NA"]).unwrap();
    b.set_cpd(a, &[], vec![0.5, 0.5]).unwrap();
    b.set_cpd(c, &[a], vec![0.2, 0.3, 0.5, 0.6, 0.3, 0.1])
        .unwrap();
    b.build().unwrap()
}

fn read(text: &str, opts: &CsvOptions) -> pgmkit::Result<pgmkit::data::csv::CsvTable> {
    read_csv(text.as_bytes(), net().vars(), opts)
}

fn data_err(e: Error) -> (Option<usize>, Option<usize>, Option<String>, DataErrorKind) {
    match e {
        Error::Data {
            row,
            col,
            column_name,
            kind,
        } => (row, col, column_name, kind),
        e => panic!("expected a data error, got {e:?}"),
    }
}

#[test]
fn markers_that_are_states_are_states() {
    let t = read(
        "c,a,note\nNone,yes,x\nNA,?,y\n,NaN,z\nLow,no,\n",
        &CsvOptions::default(),
    )
    .unwrap();
    let d = &t.data;
    assert_eq!(d.column(0.into()), &[0, MISSING, MISSING, 1]);
    // "None" and "NA" are states of c; "" is a hole
    assert_eq!(d.column(1.into()), &[0, 2, MISSING, 1]);
    assert_eq!(t.extra_columns, vec![2]);
    // custom markers: only "-" is a hole
    let opts = CsvOptions {
        missing_markers: vec!["-".into()],
        ..CsvOptions::default()
    };
    let e = read("a,c\n?,Low\n", &opts).unwrap_err();
    assert!(matches!(data_err(e).3, DataErrorKind::UnknownState { .. }));
    assert_eq!(
        read("a,c\n-,Low\nno,NA\n", &opts)
            .unwrap()
            .data
            .column(0.into()),
        &[MISSING, 1]
    );
}

#[test]
fn unknown_state_names_row_and_column() {
    let e = read("a,c\nyes,Low\nyes,High\n", &CsvOptions::default()).unwrap_err();
    let msg = e.to_string();
    let (row, col, name, kind) = data_err(e);
    assert_eq!((row, col, name.as_deref()), (Some(2), Some(2), Some("c")));
    assert!(matches!(kind, DataErrorKind::UnknownState { ref state, .. } if state == "High"));
    assert!(
        msg.contains("row 2") && msg.contains("column 2") && msg.contains("High"),
        "{msg}"
    );
}

#[test]
fn unknown_column_rejected_on_request() {
    let opts = CsvOptions {
        extra_columns: ExtraColumns::Reject,
        ..CsvOptions::default()
    };
    let (row, col, name, kind) = data_err(read("a,zzz,c\nyes,1,Low\n", &opts).unwrap_err());
    assert_eq!(
        (row, col, name.as_deref(), kind),
        (Some(0), Some(2), Some("zzz"), DataErrorKind::UnknownColumn)
    );
}

#[test]
fn missing_column_is_an_error_unless_latent() {
    let (_, _, name, kind) = data_err(read("a\nyes\n", &CsvOptions::default()).unwrap_err());
    assert_eq!(
        (name.as_deref(), kind),
        (Some("c"), DataErrorKind::MissingColumn)
    );
    let opts = CsvOptions {
        latent: vec!["c".into()],
        ..CsvOptions::default()
    };
    assert_eq!(
        read("a\nyes\n", &opts).unwrap().data.column(1.into()),
        &[MISSING]
    );
}

#[test]
fn ragged_row_names_the_row() {
    let e = read("a,c\nyes,Low\nno\n", &CsvOptions::default()).unwrap_err();
    let msg = e.to_string();
    let (row, _, _, kind) = data_err(e);
    assert_eq!(row, Some(2));
    assert_eq!(
        kind,
        DataErrorKind::RaggedRow {
            expected: 2,
            found: 1
        }
    );
    assert!(msg.contains("row 2"), "{msg}");
}

#[test]
fn empty_file_is_an_error() {
    let (_, _, _, kind) = data_err(read("", &CsvOptions::default()).unwrap_err());
    assert_eq!(kind, DataErrorKind::Empty);
}

#[test]
fn all_missing_column_is_an_error_unless_latent() {
    let e = read("a,c\nNA,Low\n,None\n", &CsvOptions::default()).unwrap_err();
    let (_, col, name, kind) = data_err(e);
    assert_eq!(
        (col, name.as_deref(), kind),
        (Some(1), Some("a"), DataErrorKind::AllMissing)
    );
    let opts = CsvOptions {
        latent: vec!["a".into()],
        ..CsvOptions::default()
    };
    assert!(read("a,c\nNA,Low\n,None\n", &opts).is_ok());
}

#[test]
fn gzip_is_read_transparently() {
    let dir = std::env::temp_dir().join(format!("pgmkit_csv_gz_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("d.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(b"c,a\nLow,yes\nNA,\n").unwrap();
    std::fs::write(&p, enc.finish().unwrap()).unwrap();
    let t = read_csv_path(&p, net().vars(), &CsvOptions::default()).unwrap();
    assert_eq!(t.data.column(0.into()), &[0, MISSING]);
    assert_eq!(t.data.column(1.into()), &[1, 2]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn completed_copy_keeps_observed_text_and_extra_columns() {
    let text = "note,a,c\n\"x, y\",yes,NA\nz,?,Low\n";
    let opts = CsvOptions {
        keep_text: true,
        ..CsvOptions::default()
    };
    let t = read(text, &opts).unwrap();
    let mut out = Vec::new();
    write_completed(&t, net().vars(), |_, _| Some(1), &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "note,a,c\n\"x, y\",yes,NA\nz,no,Low\n"
    );
}

#[test]
fn interrupted_atomic_write_leaves_no_file() {
    let dir = std::env::temp_dir().join(format!("pgmkit_atomic_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("out.csv");
    let r = write_atomic_with(&p, |w| {
        w.write_all(&vec![b'x'; 3 << 20])
            .map_err(|e| Error::io("out.csv", e))?;
        Err(Error::InvalidArgument("failed midway".into()))
    });
    assert!(r.is_err());
    assert!(!p.exists(), "a partial output file was left behind");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "temporary file left behind"
    );
    // an existing file is left untouched by a failed write
    std::fs::write(&p, "old").unwrap();
    let _ = write_atomic_with(&p, |_| Err(Error::InvalidArgument("no".into())));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "old");
    write_atomic_with(&p, |w| {
        w.write_all(b"new").map_err(|e| Error::io("out.csv", e))
    })
    .unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
    std::fs::remove_dir_all(&dir).unwrap();
}
