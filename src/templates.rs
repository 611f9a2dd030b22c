//! The minijinja templates in `templates/`, embedded in the binary.

use minijinja::Environment;
use serde::Serialize;

use crate::error::{Error, Result};

/// (file name, source) of every template, embedded at build time.
const TEMPLATES: &[(&str, &str)] = &[
    ("_macros.j2", include_str!("../templates/_macros.j2")),
    (
        "secret.yaml.j2",
        include_str!("../templates/secret.yaml.j2"),
    ),
    (
        "redis-tls-secret.yaml.j2",
        include_str!("../templates/redis-tls-secret.yaml.j2"),
    ),
    (
        "redis-configmap.yaml.j2",
        include_str!("../templates/redis-configmap.yaml.j2"),
    ),
    (
        "redis-pvc.yaml.j2",
        include_str!("../templates/redis-pvc.yaml.j2"),
    ),
    (
        "redis-service.yaml.j2",
        include_str!("../templates/redis-service.yaml.j2"),
    ),
    (
        "redis-deployment.yaml.j2",
        include_str!("../templates/redis-deployment.yaml.j2"),
    ),
    (
        "worker-pdb.yaml.j2",
        include_str!("../templates/worker-pdb.yaml.j2"),
    ),
    (
        "rayservice.yaml.j2",
        include_str!("../templates/rayservice.yaml.j2"),
    ),
    (
        "serve-config.yaml.j2",
        include_str!("../templates/serve-config.yaml.j2"),
    ),
    (
        "tester-configmap.yaml.j2",
        include_str!("../templates/tester-configmap.yaml.j2"),
    ),
    (
        "tester-pod.yaml.j2",
        include_str!("../templates/tester-pod.yaml.j2"),
    ),
    ("_page.html.j2", include_str!("../templates/_page.html.j2")),
    (
        "_report.html.j2",
        include_str!("../templates/_report.html.j2"),
    ),
    (
        "report.html.j2",
        include_str!("../templates/report.html.j2"),
    ),
    (
        "compare.html.j2",
        include_str!("../templates/compare.html.j2"),
    ),
];

/// The tester's query loop, shipped in the tester ConfigMap.
pub const TESTER_SCRIPT: &str = include_str!("../templates/tester-query.py");

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .expect("embedded templates are valid (checked by tests)");
    }
    env
}

/// Renders one template with `ctx`.
pub fn render(name: &str, ctx: impl Serialize) -> Result<String> {
    let env = environment();
    let template = env
        .get_template(name)
        .map_err(|e| Error::failed(format!("internal: template {name}: {e}")))?;
    template
        .render(ctx)
        .map_err(|e| Error::failed(format!("internal: template {name}: {e:#}")))
}

/// The single-application Serve config from its parameters.
pub fn render_serve_config(app: &serde_json::Value) -> Result<String> {
    render("serve-config.yaml.j2", minijinja::context! { app => app })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_parses() {
        let env = super::environment();
        for (name, _) in super::TEMPLATES {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
    }
}
