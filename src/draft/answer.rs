//! Answers that are more than one string: the source's auth, the window and
//! a post-follow-up action. Each is read from one line, the same way from a
//! flag and from the wizard, so that both say the same thing about a wrong
//! one. What they hold is checked by `validate`'s rules once rendered (the
//! window's parts here already, with the window's own messages).

use crate::window::{Window, WindowError};

/// How the source's request authenticates; secrets come from the
/// environment under fixed names, never from the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceAuth {
    /// No auth
    None,
    /// HTTP basic auth from SOURCE_USER and SOURCE_PASSWORD
    Basic,
    /// A bearer token from SOURCE_TOKEN
    Bearer,
}

impl SourceAuth {
    pub fn parse(text: &str) -> Result<SourceAuth, String> {
        match text.to_ascii_lowercase().as_str() {
            "" | "none" => Ok(SourceAuth::None),
            "basic" => Ok(SourceAuth::Basic),
            "bearer" => Ok(SourceAuth::Bearer),
            _ => Err(format!(
                "`{text}` is not an auth: none, basic (SOURCE_USER, SOURCE_PASSWORD) or bearer (SOURCE_TOKEN)"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SourceAuth::None => "none",
            SourceAuth::Basic => "basic",
            SourceAuth::Bearer => "bearer",
        }
    }

    /// The `auth:` value, inserting the environment variables.
    pub fn yaml(self) -> Option<&'static str> {
        match self {
            SourceAuth::None => None,
            SourceAuth::Basic => Some(
                "{ type: basic, username: \"@{env.SOURCE_USER}\", password: \"@{env.SOURCE_PASSWORD}\" }",
            ),
            SourceAuth::Bearer => Some("{ type: bearer, token: \"@{env.SOURCE_TOKEN}\" }"),
        }
    }
}

/// `schedule.window`, answered as `DAYS HOURS [TIMEZONE]`
/// (`mon-fri 08:00-18:00 Europe/Lisbon`); the time zone defaults to UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSpec {
    pub days: String,
    pub hours: String,
    pub timezone: String,
}

impl WindowSpec {
    /// `none` (or nothing) is no window.
    pub fn parse(text: &str) -> Result<Option<WindowSpec>, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let (days, hours, timezone) = match parts[..] {
            [] | ["none"] => return Ok(None),
            [days, hours] => (days, hours, "UTC"),
            [days, hours, timezone] => (days, hours, timezone),
            _ => {
                return Err(
                    "a window is `DAYS HOURS [TIMEZONE]`, e.g. `mon-fri 08:00-18:00 Europe/Lisbon`, or none"
                        .into(),
                );
            }
        };
        Window::new(days, hours, timezone).map_err(|errors| {
            let messages: Vec<String> = errors
                .into_iter()
                .map(|e| match e {
                    WindowError::Days(m) | WindowError::Hours(m) | WindowError::Timezone(m) => m,
                })
                .collect();
            messages.join("; ")
        })?;
        Ok(Some(WindowSpec {
            days: days.to_owned(),
            hours: hours.to_owned(),
            timezone: timezone.to_owned(),
        }))
    }
}

impl std::fmt::Display for WindowSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{} {} {}", self.days, self.hours, self.timezone)
    }
}

/// One post-follow-up action: `set local.NAME = VALUE`, or an HTTP call
/// `METHOD URL` (the body, headers and auth are added by editing the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostAction {
    Set { name: String, value: String },
    Call { method: String, url: String },
}

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

impl PostAction {
    /// `none` (or nothing) is no action.
    pub fn parse(text: &str) -> Result<Option<PostAction>, String> {
        let text = text.trim();
        if text.is_empty() || text == "none" {
            return Ok(None);
        }
        let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let rest = rest.trim();
        if word == "set" {
            if let Some((name, value)) = rest.split_once('=')
                && !name.trim().is_empty()
            {
                return Ok(Some(PostAction::Set {
                    name: name.trim().to_owned(),
                    value: value.trim().to_owned(),
                }));
            }
        } else if let Some(method) = METHODS.iter().find(|m| m.eq_ignore_ascii_case(word))
            && !rest.is_empty()
            && !rest.contains(char::is_whitespace)
        {
            return Ok(Some(PostAction::Call {
                method: (*method).to_owned(),
                url: rest.to_owned(),
            }));
        }
        Err(format!(
            "`{text}` is not an action: `set local.NAME = VALUE`, `METHOD URL` (an HTTP call: {}), or none",
            METHODS.join(", ")
        ))
    }
}

impl std::fmt::Display for PostAction {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            PostAction::Set { name, value } => write!(f, "set {name} = {value}"),
            PostAction::Call { method, url } => write!(f, "{method} {url}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_take_days_hours_and_a_zone() {
        assert_eq!(WindowSpec::parse("none"), Ok(None));
        assert_eq!(
            WindowSpec::parse("mon-fri 08:00-18:00"),
            Ok(Some(WindowSpec {
                days: "mon-fri".into(),
                hours: "08:00-18:00".into(),
                timezone: "UTC".into()
            }))
        );
        let err = WindowSpec::parse("mon-fri 08:00-18:00 Mars/Olympus").unwrap_err();
        assert!(err.contains("Mars/Olympus"), "{err}");
        assert!(
            WindowSpec::parse("mon-fri")
                .unwrap_err()
                .starts_with("a window is")
        );
    }

    #[test]
    fn actions_are_a_set_or_a_call() {
        assert_eq!(
            PostAction::parse("set local.note = Reminder @{followup.attempt}"),
            Ok(Some(PostAction::Set {
                name: "local.note".into(),
                value: "Reminder @{followup.attempt}".into()
            }))
        );
        assert_eq!(
            PostAction::parse("patch https://x.example/api/1"),
            Ok(Some(PostAction::Call {
                method: "PATCH".into(),
                url: "https://x.example/api/1".into()
            }))
        );
        assert_eq!(PostAction::parse(""), Ok(None));
        assert!(
            PostAction::parse("escalate")
                .unwrap_err()
                .contains("METHOD URL")
        );
        assert!(PostAction::parse("set local.x").is_err());
    }
}
