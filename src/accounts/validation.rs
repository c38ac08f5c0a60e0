//! Parse, don't validate: the account fields a person types, checked once at the edge.

use std::collections::BTreeMap;

/// The most common passwords (leaked-password lists, plus local favourites); refused at sign-up.
const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "password1234",
    "passw0rd",
    "p@ssw0rd",
    "12345678",
    "123456789",
    "1234567890",
    "12345678910",
    "0123456789",
    "87654321",
    "11111111",
    "00000000",
    "88888888",
    "12341234",
    "11223344",
    "abcd1234",
    "1q2w3e4r",
    "1qaz2wsx",
    "qwertyuiop",
    "qwerty123",
    "qwerty12",
    "qwerty1234",
    "asdfghjkl",
    "zxcvbnm1",
    "iloveyou",
    "iloveyou1",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "superman",
    "starwars",
    "whatever",
    "trustno1",
    "letmein1",
    "welcome1",
    "welcome123",
    "admin123",
    "administrator",
    "computer",
    "internet",
    "monkey123",
    "dragon123",
    "master123",
    "shadow123",
    "michael1",
    "jennifer",
    "changeme",
    "qazwsxedc",
    "aaaaaaaa",
    "abc12345",
    "abcdefgh",
    "pakistan",
    "pakistan1",
    "pakistan123",
    "pakistan786",
    "karachi123",
    "lahore123",
    "islamabad",
    "allah786",
    "bismillah",
    "bismillah786",
    "muhammad",
    "muhammad786",
    "mohammad",
    "786786786",
    "78678678",
    "khan1234",
    "cricket1",
    "imrankhan",
    "nextgenrdp",
    "nextgen123",
    "rdp12345",
];

/// The longest password, in bytes of UTF-8: bcrypt reads no further, so a longer one would log
/// in with any ending. Refused, rather than pre-hashed: a pre-hash would make our hashes
/// something other than plain bcrypt, which the old site's hashes and every other bcrypt tool
/// share, and 72 bytes is a long passphrase (fewer letters in Urdu: 2 bytes each).
pub const MAX_PASSWORD_BYTES: usize = 72;

/// A password's problem, or `None` when it is acceptable: at least 8 characters, at most 72
/// bytes, and not one of the most common passwords.
pub fn password_problem(password: &str) -> Option<&'static str> {
    let length = password.chars().count();
    if length < 8 {
        return Some("must be at least 8 characters");
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Some(
            "must be at most 72 bytes (72 letters or digits, fewer in Urdu): longer passwords are \
             cut there when checked",
        );
    }
    if COMMON_PASSWORDS.contains(&password.to_lowercase().as_str()) {
        return Some("is too common; choose one that others would not guess");
    }
    None
}

/// A person's name: trimmed, 1 to 100 characters, no control characters.
pub fn parse_name(text: &str) -> Result<String, &'static str> {
    let name = text.trim();
    if name.is_empty() {
        return Err("is required");
    }
    if name.chars().count() > 100 {
        return Err("must be at most 100 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(name.to_owned())
}

/// A phone number normalised to E.164. Pakistani mobiles are accepted as `03001234567`,
/// `0300-1234567`, `+92 300 1234567`, `923001234567` or `00923001234567`, all stored as
/// `+923001234567`; other countries' numbers must start with `+` and their country code.
pub fn parse_phone(text: &str) -> Result<String, &'static str> {
    const PROBLEM: &str = "must be a phone number like 03001234567 or +923001234567";
    let trimmed = text.trim();
    if !trimmed
        .chars()
        .all(|c| c.is_ascii_digit() || " -()+".contains(c))
    {
        return Err(PROBLEM);
    }
    let plus = trimmed.starts_with('+');
    if trimmed.rfind('+').is_some_and(|at| at > 0) {
        return Err(PROBLEM);
    }
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let national = if let Some(rest) = digits.strip_prefix("0092") {
        Some(rest)
    } else if let Some(rest) = digits.strip_prefix("92").filter(|r| r.len() == 10) {
        Some(rest)
    } else if !plus {
        digits.strip_prefix('0').filter(|r| r.starts_with('3'))
    } else {
        None
    };
    if let Some(national) = national {
        if national.len() == 10 && national.starts_with('3') {
            return Ok(format!("+92{national}"));
        }
        return Err(PROBLEM);
    }
    if plus && (8..=15).contains(&digits.len()) && !digits.starts_with('0') {
        return Ok(format!("+{digits}"));
    }
    Err(PROBLEM)
}

/// Collects field problems for one 422.
#[derive(Default)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, problem: &str) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| problem.to_owned());
    }

    /// Keeps the value, or records the field's problem.
    pub fn check<T>(&mut self, field: &str, result: Result<T, &'static str>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(problem) => {
                self.add(field, problem);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }
}

/// A new account's name, e-mail and optional phone (blank: none), each problem recorded under
/// its field; `None` when any is at fault.
pub fn parse_person(
    errors: &mut FieldErrors,
    name: &str,
    email: &str,
    phone: Option<&str>,
) -> Option<(String, super::Email, Option<String>)> {
    let name = errors.check("name", parse_name(name));
    let email = errors.check("email", super::Email::parse(email));
    let phone = match phone.map(str::trim).filter(|p| !p.is_empty()) {
        Some(phone) => errors.check("phone", parse_phone(phone)).map(Some),
        None => Some(None),
    };
    Some((name?, email?, phone?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pakistani_mobile_numbers_are_normalised() {
        for input in [
            "03001234567",
            "0300-1234567",
            "+92 300 1234567",
            "923001234567",
            "00923001234567",
            "+92-300-1234567",
        ] {
            assert_eq!(parse_phone(input).unwrap(), "+923001234567", "{input}");
        }
    }

    #[test]
    fn international_numbers_keep_their_country_code() {
        assert_eq!(parse_phone("+44 20 7946 0958").unwrap(), "+442079460958");
    }

    #[test]
    fn malformed_phone_numbers_are_refused() {
        for input in [
            "",
            "0300123456",
            "030012345678",
            "02112345678",
            "300 1234567",
            "+92 21 1234567x",
            "12+345",
            "+0123456789",
        ] {
            assert!(parse_phone(input).is_err(), "{input:?} accepted");
        }
    }

    #[test]
    fn weak_passwords_are_refused_with_the_reason() {
        assert_eq!(
            password_problem("short"),
            Some("must be at least 8 characters")
        );
        assert_eq!(password_problem(&"x".repeat(72)), None);
        assert!(
            password_problem(&"x".repeat(73))
                .unwrap()
                .contains("72 bytes")
        );
        // 37 Urdu letters are 74 bytes: past what bcrypt reads.
        assert!(
            password_problem(&"ا".repeat(37))
                .unwrap()
                .contains("72 bytes")
        );
        assert!(password_problem("Password123").unwrap().contains("common"));
        assert!(password_problem("Pakistan786").unwrap().contains("common"));
        assert_eq!(password_problem("correct horse battery"), None);
        assert_eq!(
            password_problem(&"é".repeat(8)),
            None,
            "characters, not bytes"
        );
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_name("  Ayesha Khan ").unwrap(), "Ayesha Khan");
        assert!(parse_name("   ").is_err());
        assert!(parse_name(&"a".repeat(101)).is_err());
        assert!(parse_name("a\u{0}b").is_err());
    }
}
