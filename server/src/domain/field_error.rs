/// One broken field, addressed the way FastAPI does it (`["body", "usage_stats", "job_count"]`),
/// because Printernizer logs such bodies and its maintainers know the shape.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    #[schema(example = json!(["body", "usage_stats", "job_count"]))]
    pub loc: Vec<String>,
    #[schema(example = "must be an integer from 0 to 100000")]
    pub msg: String,
    #[serde(rename = "type")]
    #[schema(example = "range")]
    pub kind: String,
}

impl FieldError {
    /// A field of the request body, addressed from the body's top (`["usage_stats", "job_count"]`).
    pub fn new(loc: &[&str], msg: impl Into<String>, kind: &str) -> Self {
        Self::at("body", loc, msg, kind)
    }

    /// A parameter of the URL path.
    pub fn path(name: &str, msg: impl Into<String>, kind: &str) -> Self {
        Self::at("path", &[name], msg, kind)
    }

    /// A parameter of the query string.
    pub fn query(name: &str, msg: impl Into<String>, kind: &str) -> Self {
        Self::at("query", &[name], msg, kind)
    }

    fn at(root: &str, loc: &[&str], msg: impl Into<String>, kind: &str) -> Self {
        let mut full = Vec::with_capacity(loc.len() + 1);
        full.push(root.to_owned());
        full.extend(loc.iter().map(|s| (*s).to_owned()));
        Self {
            loc: full,
            msg: msg.into(),
            kind: kind.to_owned(),
        }
    }
}
