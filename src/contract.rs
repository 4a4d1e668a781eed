//! The understanding contract (`shared/spec/understanding.md`): what every
//! front end accepts and returns. Field names here are the wire names.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{QuarryError, Result};

/// Query length limits, in bytes of UTF-8 after trimming.
pub const MAX_QUERY_BYTES: usize = 512;
/// Upper bound on a whole request body; protects parsers from huge inputs.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;
const MAX_PROFILE_TEXT_BYTES: usize = 256;
const MAX_SKILLS: usize = 50;
const MAX_YEARS_EXPERIENCE: u32 = 80;

/// The exact message a denied query receives.
pub const DENIAL_MESSAGE: &str =
    "This search query may violate our Professional Community Policies. Edit your search to try again";

/// One request: a query and the member's optional profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
}

/// The member's profile; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seniority: Option<Seniority>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years_experience: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub education: Option<String>,
}

impl Input {
    /// Parses and validates a request body. Invalid UTF-8, malformed JSON,
    /// wrong types, unknown fields and out-of-range values are all errors.
    pub fn from_json(body: &[u8]) -> Result<Input> {
        if body.len() > MAX_REQUEST_BYTES {
            return Err(QuarryError::invalid(
                "body",
                format!(
                    "{} bytes exceeds the limit of {MAX_REQUEST_BYTES}",
                    body.len()
                ),
            ));
        }
        let text = std::str::from_utf8(body)
            .map_err(|e| QuarryError::MalformedRequest(format!("body is not valid UTF-8 ({e})")))?;
        let input: Input =
            serde_json::from_str(text).map_err(|e| QuarryError::MalformedRequest(e.to_string()))?;
        input.validated()
    }

    /// Parses an HTTP front's request body: the contract input plus an
    /// optional boolean `"stream"` (server-sent events), which the strict
    /// input parser would reject as unknown. Returns the input and the flag.
    pub fn from_request_json(body: &[u8]) -> Result<(Input, bool)> {
        // The size limit is on the body as sent, before the flag is taken
        // out; too large, not UTF-8 or not JSON: the input parser names it.
        let parsed = (body.len() <= MAX_REQUEST_BYTES)
            .then(|| serde_json::from_slice::<Value>(body).ok())
            .flatten();
        let Some(mut value) = parsed else {
            return Input::from_json(body).map(|input| (input, false));
        };
        let stream = match value.as_object_mut().and_then(|o| o.remove("stream")) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(stream)) => stream,
            Some(other) => {
                return Err(QuarryError::MalformedRequest(format!(
                    "`stream` must be true or false, got {other}"
                )))
            }
        };
        let body =
            serde_json::to_vec(&value).map_err(|e| QuarryError::MalformedRequest(e.to_string()))?;
        Ok((Input::from_json(&body)?, stream))
    }

    /// Builds an input from a query alone.
    pub fn query(query: impl Into<String>) -> Input {
        Input {
            query: query.into(),
            profile: None,
        }
    }

    /// Checks the contract's limits and returns the input with its query
    /// trimmed; an empty profile (every field absent) becomes `None`.
    pub fn validated(mut self) -> Result<Input> {
        let trimmed = self.query.trim();
        if trimmed.is_empty() {
            return Err(QuarryError::invalid("query", "must not be empty"));
        }
        if trimmed.len() > MAX_QUERY_BYTES {
            return Err(QuarryError::invalid(
                "query",
                format!(
                    "{} bytes after trimming exceeds the limit of {MAX_QUERY_BYTES}",
                    trimmed.len()
                ),
            ));
        }
        if trimmed
            .chars()
            .any(|c| c.is_control() && !c.is_whitespace())
        {
            return Err(QuarryError::invalid("query", "contains control characters"));
        }
        self.query = trimmed.to_string();
        if let Some(profile) = self.profile.take() {
            let profile = profile.validated()?;
            self.profile = (profile != Profile::default()).then_some(profile);
        }
        Ok(self)
    }
}

impl Profile {
    fn validated(mut self) -> Result<Profile> {
        for (field, value) in [
            ("profile.title", &mut self.title),
            ("profile.company", &mut self.company),
            ("profile.location", &mut self.location),
            ("profile.industry", &mut self.industry),
            ("profile.education", &mut self.education),
        ] {
            *value = clean_profile_text(field, value.take())?;
        }
        if self.skills.len() > MAX_SKILLS {
            return Err(QuarryError::invalid(
                "profile.skills",
                format!(
                    "{} skills exceeds the limit of {MAX_SKILLS}",
                    self.skills.len()
                ),
            ));
        }
        let mut skills = Vec::with_capacity(self.skills.len());
        for skill in self.skills.drain(..) {
            if let Some(skill) = clean_profile_text("profile.skills", Some(skill))? {
                skills.push(skill);
            }
        }
        self.skills = skills;
        if let Some(years) = self.years_experience {
            if years > MAX_YEARS_EXPERIENCE {
                return Err(QuarryError::invalid(
                    "profile.years_experience",
                    format!("{years} is more than {MAX_YEARS_EXPERIENCE}"),
                ));
            }
        }
        Ok(self)
    }
}

/// Serializes any contract value to compact JSON. Contract types hold only
/// strings, numbers and maps, so this cannot fail.
pub fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

impl Profile {
    /// The profile's text values (title, company, location, industry,
    /// education, then skills): what a rewrite may copy word for word.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        [
            &self.title,
            &self.company,
            &self.location,
            &self.industry,
            &self.education,
        ]
        .into_iter()
        .flatten()
        .chain(self.skills.iter())
        .map(String::as_str)
    }
}

/// Trims a profile text field; blank becomes absent, overlong is an error.
fn clean_profile_text(field: &'static str, value: Option<String>) -> Result<Option<String>> {
    let Some(value) = value else { return Ok(None) };
    let trimmed = value.trim();
    if trimmed.len() > MAX_PROFILE_TEXT_BYTES {
        return Err(QuarryError::invalid(
            field,
            format!("longer than {MAX_PROFILE_TEXT_BYTES} bytes"),
        ));
    }
    if trimmed.chars().any(|c| c.is_control()) {
        return Err(QuarryError::invalid(field, "contains control characters"));
    }
    Ok((!trimmed.is_empty()).then(|| trimmed.to_string()))
}

/// The query planner's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    CriteriaSearch,
    SelfReference,
    NonJob,
    TrustViolation,
}

impl Intent {
    pub const ALL: [Intent; 4] = [
        Intent::CriteriaSearch,
        Intent::SelfReference,
        Intent::NonJob,
        Intent::TrustViolation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Intent::CriteriaSearch => "criteria_search",
            Intent::SelfReference => "self_reference",
            Intent::NonJob => "non_job",
            Intent::TrustViolation => "trust_violation",
        }
    }

    pub fn parse(name: &str) -> Option<Intent> {
        Intent::ALL.into_iter().find(|i| i.as_str() == name)
    }
}

/// Seniority levels, shared by `seniority_tool` and the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Seniority {
    Internship,
    EntryLevel,
    Associate,
    MidSenior,
    Director,
    Executive,
}

/// A tool the tagger can call. The wire name is `<snake>_tool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ToolName {
    Title,
    Company,
    Location,
    Seniority,
    Industry,
    WorkplaceType,
    EmploymentType,
    EasyApply,
    DatePosted,
    NumApplicants,
    JobInNetwork,
    Salary,
}

impl ToolName {
    pub const ALL: [ToolName; 12] = [
        ToolName::Title,
        ToolName::Company,
        ToolName::Location,
        ToolName::Seniority,
        ToolName::Industry,
        ToolName::WorkplaceType,
        ToolName::EmploymentType,
        ToolName::EasyApply,
        ToolName::DatePosted,
        ToolName::NumApplicants,
        ToolName::JobInNetwork,
        ToolName::Salary,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ToolName::Title => "title_tool",
            ToolName::Company => "company_tool",
            ToolName::Location => "location_tool",
            ToolName::Seniority => "seniority_tool",
            ToolName::Industry => "industry_tool",
            ToolName::WorkplaceType => "workplace_type_tool",
            ToolName::EmploymentType => "employment_type_tool",
            ToolName::EasyApply => "easy_apply_tool",
            ToolName::DatePosted => "date_posted_tool",
            ToolName::NumApplicants => "num_applicants_tool",
            ToolName::JobInNetwork => "job_in_network_tool",
            ToolName::Salary => "salary_tool",
        }
    }

    pub fn parse(name: &str) -> Option<ToolName> {
        ToolName::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The argument keys that identify a call of this tool in the contract;
    /// evaluation compares these and ignores enrichments such as `resolved`.
    pub fn key_arguments(self) -> &'static [&'static str] {
        match self {
            ToolName::Title => &["title"],
            ToolName::Company => &["company"],
            ToolName::Location => &["location"],
            ToolName::Seniority => &["level"],
            ToolName::Industry => &["industry"],
            ToolName::WorkplaceType | ToolName::EmploymentType => &["type"],
            ToolName::EasyApply | ToolName::JobInNetwork => &[],
            ToolName::DatePosted => &["within"],
            ToolName::NumApplicants => &["max"],
            ToolName::Salary => &["min_annual", "currency"],
        }
    }

    /// The tagger's one argument for this tool, as the wire format carries
    /// it (`title_tool rust engineer` is `{"title": "rust engineer"}`);
    /// `None` for tools without arguments. See [`crate::tools`].
    pub fn wire_argument(self) -> Option<&'static str> {
        match self {
            ToolName::Seniority => Some("level"),
            ToolName::WorkplaceType | ToolName::EmploymentType => Some("type"),
            ToolName::DatePosted => Some("within"),
            ToolName::NumApplicants => Some("applicants"),
            ToolName::Salary => Some("amount"),
            ToolName::EasyApply | ToolName::JobInNetwork => None,
            name => name.text_argument(),
        }
    }

    /// Whether the wire argument is a span copied from the query (or
    /// rewrite) rather than an enum value.
    pub fn copies_span(self) -> bool {
        matches!(self, ToolName::Salary | ToolName::NumApplicants) || self.text_argument().is_some()
    }

    /// Tools whose argument is free text copied from the query.
    pub fn text_argument(self) -> Option<&'static str> {
        match self {
            ToolName::Title => Some("title"),
            ToolName::Company => Some("company"),
            ToolName::Location => Some("location"),
            ToolName::Industry => Some("industry"),
            _ => None,
        }
    }
}

impl Serialize for ToolName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ToolName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        ToolName::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown tool `{name}`")))
    }
}

/// One tool call: a name and its arguments object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub name: ToolName,
    pub arguments: Map<String, Value>,
}

impl ToolCall {
    pub fn new(name: ToolName, arguments: Value) -> ToolCall {
        let arguments = match arguments {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        ToolCall { name, arguments }
    }

    /// The string value of argument `key`, if present.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.arguments.get(key).and_then(Value::as_str)
    }
}

/// Why a query was denied (an extra field; the contract only requires
/// `denied` and `message`). Servers count denials by category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Denial {
    /// Known when the lexical screen denied; the model gives no category.
    pub category: Option<crate::trust::Category>,
    /// `screen` (lexical rules before the model) or `model` (the planner).
    pub stage: DenialStage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenialStage {
    Screen,
    Model,
}

/// The contract's output for one query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub query: String,
    pub intent: Intent,
    pub denied: bool,
    pub message: Option<String>,
    pub rewritten_query: Option<String>,
    pub tools: Vec<ToolCall>,
    pub suggested_industries: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denial: Option<Denial>,
    /// How sure the model was, in [0, 1] (see
    /// [`crate::GenerationStats::confidence`]); the edge falls back to the
    /// datacenter below a threshold.
    #[serde(default = "certain")]
    pub confidence: f64,
}

fn certain() -> f64 {
    1.0
}

impl Output {
    /// A criteria search with nothing found yet: where routing starts, and
    /// what a stage that fails leaves.
    pub fn searching(query: &str) -> Output {
        Output {
            query: query.to_string(),
            intent: Intent::CriteriaSearch,
            denied: false,
            message: None,
            rewritten_query: None,
            tools: Vec::new(),
            suggested_industries: Vec::new(),
            denial: None,
            confidence: 1.0,
        }
    }

    /// The output for a denied query: no tools, the exact message.
    pub fn denied(query: &str, denial: Denial) -> Output {
        Output {
            query: query.to_string(),
            intent: Intent::TrustViolation,
            denied: true,
            message: Some(DENIAL_MESSAGE.to_string()),
            rewritten_query: None,
            tools: Vec::new(),
            suggested_industries: Vec::new(),
            denial: Some(denial),
            confidence: 1.0,
        }
    }
}

/// One streaming event (spec, "Streaming"). Serialized as
/// `{"event": "tool", "data": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum Event {
    Intent(Intent),
    Rewrite(String),
    Tool(ToolCall),
    Suggestions(Vec<String>),
    Error(String),
    Done(Box<Output>),
}

impl Event {
    /// The event's name on the wire (`intent`, `rewrite`, `tool`,
    /// `suggestions`, `error`, `done`): the JSON tag and the SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Intent(_) => "intent",
            Event::Rewrite(_) => "rewrite",
            Event::Tool(_) => "tool",
            Event::Suggestions(_) => "suggestions",
            Event::Error(_) => "error",
            Event::Done(_) => "done",
        }
    }
}
