//! harness_sv_errors: a failing SV assertion and a `$fatal` in a model surface as Rust errors
//! carrying the SV message; the process goes on, and so does the model.

use tessera_verif::{Error, Probe};

#[test]
fn harness_assertion_failure_is_an_error() {
    let mut p = Probe::new().unwrap();
    p.tick(5).unwrap();
    p.set_inputs(true, false);
    let err = p.tick(3).unwrap_err();
    let Error::Sv(msg) = &err else {
        panic!("expected an SV error, got {err:?}")
    };
    assert!(msg.contains("probe assertion fired"), "message: {msg}");
    assert!(
        msg.contains("assert_probe.sv"),
        "message names the source: {msg}"
    );
    // The model stays usable.
    p.set_inputs(false, false);
    let before = p.count();
    p.tick(4).unwrap();
    assert_eq!(p.count(), before + 4);
}

#[test]
fn harness_fatal_is_an_error() {
    let mut p = Probe::new().unwrap();
    p.tick(2).unwrap();
    p.set_inputs(false, true);
    let err = p.tick(10).unwrap_err();
    let Error::Sv(msg) = &err else {
        panic!("expected an SV error, got {err:?}")
    };
    assert!(msg.contains("probe fatal"), "message: {msg}");
    // The run stopped at the failing edge, not after all ten cycles.
    assert!(p.count() <= 4, "count {}", p.count());
}
