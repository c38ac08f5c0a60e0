//! Forms that carry files, and files sent back: a `multipart/form-data` body read into its
//! text fields and file parts (by `multer`, the parser behind axum's own `Multipart`; an
//! urlencoded body reads as fields only), and an uploaded file served so that a browser can
//! never run it as a page of ours.

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::{AppError, AppResult};

/// A file part of a form. Parts sent without a file (a file input left empty) are left out.
#[derive(Clone, Debug)]
pub struct FilePart {
    /// The form field's name.
    pub field: String,
    /// The name the browser gave the file (possibly a path; possibly empty).
    pub file_name: String,
    /// The type the browser declared, if any.
    pub declared: Option<String>,
    pub bytes: Bytes,
}

/// A read form: its text fields in order, and its files.
#[derive(Clone, Debug, Default)]
pub struct FormParts {
    pub fields: Vec<(String, String)>,
    pub files: Vec<FilePart>,
}

impl FormParts {
    /// The first value of text field `name`.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }

    /// The files sent as field `name`.
    pub fn files(&self, name: &str) -> impl Iterator<Item = &FilePart> {
        self.files.iter().filter(move |file| file.field == name)
    }
}

/// Whether `content_type` is a `multipart/form-data` one.
pub fn is_multipart(content_type: &str) -> bool {
    multer::parse_boundary(content_type).is_ok()
}

/// Reads a form body: `multipart/form-data` (at most `max_parts` parts) or urlencoded. The
/// error is why it could not be read (for the log; the page says so in its own words).
pub async fn read_form(
    content_type: &str,
    body: Bytes,
    max_parts: usize,
) -> Result<FormParts, String> {
    let mut form = FormParts::default();
    let Ok(boundary) = multer::parse_boundary(content_type) else {
        form.fields = serde_urlencoded::from_bytes(&body).map_err(|_| "not a form".to_owned())?;
        return Ok(form);
    };
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = 0;
    while let Some(field) = multipart.next_field().await.map_err(|e| e.to_string())? {
        parts += 1;
        if parts > max_parts {
            return Err("too many parts".to_owned());
        }
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let declared = field
            .content_type()
            .map(|mime| mime.essence_str().to_owned());
        let data = field.bytes().await.map_err(|e| e.to_string())?;
        match file_name {
            Some(file_name) => {
                if !data.is_empty() {
                    form.files.push(FilePart {
                        field: name,
                        file_name,
                        declared,
                        bytes: data,
                    });
                }
            }
            None => form
                .fields
                .push((name, String::from_utf8_lossy(&data).into_owned())),
        }
    }
    Ok(form)
}

/// A file's bytes, as the API document describes a download or an upload's `file` part.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // describes file bodies for the API document
pub struct FileBytes(Vec<u8>);

/// An upload of one file as a `multipart/form-data` form (what generated clients send).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes upload forms for the API document
pub struct FileUpload {
    /// The file.
    file: FileBytes,
}

/// The readable name of an image type (`PNG`).
fn image_name(kind: &str) -> &str {
    match kind {
        "image/png" => "PNG",
        "image/jpeg" => "JPEG",
        "image/webp" => "WebP",
        other => other,
    }
}

/// Checks an uploaded image: `declared` is the type it came with (`None`, or
/// `application/octet-stream`, when it came without one and its bytes decide). A declared type
/// outside `allowed` is 415, more than `max` bytes 413, bytes that are not one of `allowed` (or
/// not the type declared) 422 naming `field`. Answers the image's type.
pub fn check_image(
    declared: Option<&str>,
    bytes: &[u8],
    allowed: &[&'static str],
    field: &'static str,
    max: usize,
) -> AppResult<&'static str> {
    let declared = declared.filter(|d| *d != "application/octet-stream");
    if let Some(declared) = declared
        && !allowed.contains(&declared)
    {
        return Err(AppError::UnsupportedMediaType);
    }
    if bytes.len() > max {
        return Err(AppError::PayloadTooLarge);
    }
    let names: Vec<&str> = allowed.iter().map(|kind| image_name(kind)).collect();
    let names = match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    match (crate::web::forms::sniff_image(bytes), declared) {
        (Some(kind), None) if allowed.contains(&kind) => Ok(kind),
        (Some(kind), Some(declared)) if kind == declared => Ok(kind),
        (_, None) => Err(AppError::invalid(
            field,
            format!("the file is not a {names} image"),
        )),
        (_, Some(_)) => Err(AppError::invalid(
            field,
            format!("the file is not the {names} image it claims to be"),
        )),
    }
}

/// An image uploaded through the API, which takes it three ways: a `multipart/form-data` form
/// with the image as its `file` part (what generated clients send), a raw body of the image's
/// own type, or a raw `application/octet-stream` body (its bytes decide). Checked as
/// [`check_image`] does; a form without its `file` part is 422 naming `file`; another body type
/// is 415.
pub async fn image_upload(
    content_type: &str,
    body: Bytes,
    allowed: &[&'static str],
    field: &'static str,
    max: usize,
) -> AppResult<(Bytes, &'static str)> {
    if is_multipart(content_type) {
        let form = read_form(content_type, body, 4)
            .await
            .map_err(|why| AppError::invalid("file", format!("the form cannot be read: {why}")))?;
        let file = form
            .files("file")
            .next()
            .ok_or_else(|| AppError::invalid("file", "send the image as the form's `file` part"))?;
        // The part's declared type is the client's guess (often none): the bytes decide.
        let kind = check_image(None, &file.bytes, allowed, field, max)?;
        return Ok((file.bytes.clone(), kind));
    }
    let declared = content_type.split(';').next().unwrap_or("").trim();
    if declared.is_empty() {
        return Err(AppError::UnsupportedMediaType);
    }
    let kind = check_image(Some(declared), &body, allowed, field, max)?;
    Ok((body, kind))
}

/// An uploaded file sent back, of its stored (sniffed) type: images inline, anything else as a
/// download, under `file_name`. A sandboxing CSP and `nosniff` keep the browser from treating it
/// as a page of ours, whatever its bytes hold; never cached by anyone but the browser.
pub fn file_response(file_name: &str, content_type: &str, bytes: Vec<u8>) -> Response {
    let disposition = if content_type.starts_with("image/") {
        "inline"
    } else {
        "attachment"
    };
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = file_name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let disposition = format!("{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_str(content_type)
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; img-src 'self'; sandbox"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            ),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_multipart_form_reads_into_fields_and_files() {
        let body = "--B\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nhello\r\n\
--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n\
--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n\
--B--\r\n";
        let form = read_form("multipart/form-data; boundary=B", Bytes::from(body), 10)
            .await
            .unwrap();
        assert_eq!(form.text("message"), Some("hello"));
        let files: Vec<_> = form.files("file").collect();
        assert_eq!(files.len(), 1, "the empty file input is left out");
        assert_eq!(files[0].file_name, "a.png");
        assert_eq!(files[0].declared.as_deref(), Some("image/png"));
        assert_eq!(&files[0].bytes[..], b"PNGDATA");
        assert!(
            read_form("multipart/form-data; boundary=B", Bytes::from(body), 2)
                .await
                .is_err(),
            "too many parts"
        );
        let plain = read_form(
            "application/x-www-form-urlencoded",
            Bytes::from("a=1&b=x+y"),
            10,
        )
        .await
        .unwrap();
        assert_eq!(plain.text("b"), Some("x y"));
    }

    #[test]
    fn a_file_is_served_as_a_download_unless_it_is_an_image() {
        let pdf = file_response("Bank slip (Meezan).pdf", "application/pdf", vec![1]);
        let disposition = pdf.headers()[header::CONTENT_DISPOSITION].to_str().unwrap();
        assert_eq!(
            disposition,
            "attachment; filename=\"Bank slip _Meezan_.pdf\"; filename*=UTF-8''Bank%20slip%20%28Meezan%29.pdf"
        );
        let png = file_response("x.png", "image/png", vec![1]);
        assert!(
            png.headers()[header::CONTENT_DISPOSITION]
                .to_str()
                .unwrap()
                .starts_with("inline;")
        );
        assert!(
            png.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("sandbox")
        );
    }
}
