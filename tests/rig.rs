//! Integration tests on the test rig (being built: see rig/). Reports no test until it lands.
fn main() {
    let args = libtest_mimic::Arguments::from_args();
    libtest_mimic::run(&args, Vec::new()).exit();
}
