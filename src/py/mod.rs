use pyo3::prelude::*;

mod server;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    server::register(m)?;
    Ok(())
}
