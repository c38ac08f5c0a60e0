//! An invoice or credit note as an A4 PDF, drawn by the binary itself with krilla (the PDF
//! writer behind Typst: text shaping, font subsetting, images; pdf-writer alone was weighed and
//! would have meant hand-writing both) and fonts embedded in the binary: Noto Sans for Latin
//! text, Noto Naskh Arabic for Urdu (a buyer's name or address in Urdu prints as written).
//! Only the glyphs used are embedded, so a document is some tens of kilobytes.

use std::sync::LazyLock;

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};

use super::{Invoice, InvoiceKind};
use crate::money::format_pkr;
use crate::orders::tax::TaxMode;

static SANS: &[u8] = include_bytes!("../../../static/fonts/NotoSans-Regular.ttf");
static SANS_BOLD: &[u8] = include_bytes!("../../../static/fonts/NotoSans-Bold.ttf");
static NASKH: &[u8] = include_bytes!("../../../static/fonts/NotoNaskhArabic-Regular.ttf");

/// A font for krilla and the same font for measuring text.
struct Face {
    font: Font,
    shaper: rustybuzz::Face<'static>,
}

impl Face {
    fn load(bytes: &'static [u8]) -> Self {
        Self {
            font: Font::new(bytes.into(), 0).expect("the embedded font is valid"),
            shaper: rustybuzz::Face::from_slice(bytes, 0).expect("the embedded font is valid"),
        }
    }

    /// The width of `text` at `size` points, as shaped.
    fn width(&self, text: &str, size: f32, direction: rustybuzz::Direction) -> f32 {
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        buffer.set_direction(direction);
        let shaped = rustybuzz::shape(&self.shaper, &[], buffer);
        let units: i32 = shaped.glyph_positions().iter().map(|p| p.x_advance).sum();
        units as f32 * size / f32::from(self.shaper.units_per_em() as u16)
    }
}

struct Fonts {
    regular: Face,
    bold: Face,
    urdu: Face,
}

static FONTS: LazyLock<Fonts> = LazyLock::new(|| Fonts {
    regular: Face::load(SANS),
    bold: Face::load(SANS_BOLD),
    urdu: Face::load(NASKH),
});

/// A4 in points.
const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const MARGIN: f32 = 48.0;
const RIGHT: f32 = PAGE_WIDTH - MARGIN;
/// Below this a new page starts.
const BOTTOM: f32 = PAGE_HEIGHT - 72.0;

const INK: (u8, u8, u8) = (0x1f, 0x29, 0x37);
const MUTED: (u8, u8, u8) = (0x5b, 0x66, 0x75);
const RULE: (u8, u8, u8) = (0xd0, 0xd5, 0xdd);
const BAND: (u8, u8, u8) = (0xee, 0xf2, 0xf7);

/// Whether `c` is written in the Arabic script (Urdu).
fn is_arabic(c: char) -> bool {
    matches!(c as u32, 0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF)
}

/// A stretch of text in one script.
struct Run<'a> {
    text: &'a str,
    arabic: bool,
}

/// Splits `text` into runs of one script; spaces and punctuation join the run they follow,
/// digits are Latin.
fn runs(text: &str) -> Vec<Run<'_>> {
    let mut runs: Vec<Run<'_>> = Vec::new();
    let mut start = 0;
    let mut current: Option<bool> = None;
    for (at, c) in text.char_indices() {
        let script = if is_arabic(c) {
            Some(true)
        } else if c.is_alphanumeric() {
            Some(false)
        } else {
            None
        };
        if let (Some(now), Some(was)) = (script, current)
            && now != was
        {
            runs.push(Run {
                text: &text[start..at],
                arabic: was,
            });
            start = at;
        }
        if script.is_some() {
            current = script;
        }
    }
    if start < text.len() {
        runs.push(Run {
            text: &text[start..],
            arabic: current.unwrap_or(false),
        });
    }
    runs
}

#[derive(Clone, Copy, PartialEq)]
enum Align {
    Left,
    Right,
}

/// Draws onto one page at a time and starts the next when the current one is full.
struct Writer {
    pages: Vec<Vec<Op>>,
    y: f32,
}

/// What is drawn on a page, recorded so pages can be written one after the other.
enum Op {
    Text {
        x: f32,
        y: f32,
        text: String,
        size: f32,
        bold: bool,
        color: (u8, u8, u8),
        align: Align,
    },
    Rect {
        rect: Rect,
        color: (u8, u8, u8),
    },
    Line {
        y: f32,
        color: (u8, u8, u8),
    },
    Image {
        image: Image,
        rect: Rect,
    },
}

/// The width of `text` in the font it will be drawn with.
fn text_width(text: &str, size: f32, bold: bool) -> f32 {
    let fonts = &*FONTS;
    runs(text)
        .iter()
        .map(|run| {
            if run.arabic {
                fonts
                    .urdu
                    .width(run.text, size, rustybuzz::Direction::RightToLeft)
            } else if bold {
                fonts
                    .bold
                    .width(run.text, size, rustybuzz::Direction::LeftToRight)
            } else {
                fonts
                    .regular
                    .width(run.text, size, rustybuzz::Direction::LeftToRight)
            }
        })
        .sum()
}

/// Breaks `text` into lines no wider than `width`.
fn wrap(text: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if !line.is_empty() && text_width(&candidate, size, bold) > width {
                lines.push(std::mem::replace(&mut line, word.to_owned()));
            } else {
                line = candidate;
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
    }
    lines
}

fn fill(color: (u8, u8, u8)) -> Fill {
    Fill {
        paint: rgb::Color::new(color.0, color.1, color.2).into(),
        ..Default::default()
    }
}

/// Draws `text` with its baseline at `y`, from `x` (left) or ending at `x` (right). A text with
/// Urdu in it reads right to left: its runs are laid out from the right.
fn draw_text(surface: &mut Surface<'_>, op: &Op) {
    let Op::Text {
        x,
        y,
        text,
        size,
        bold,
        color,
        align,
    } = op
    else {
        return;
    };
    let fonts = &*FONTS;
    let width = text_width(text, *size, *bold);
    let mut pieces = runs(text);
    if pieces.iter().any(|r| r.arabic) {
        pieces.reverse();
    }
    let mut at = match align {
        Align::Left => *x,
        Align::Right => *x - width,
    };
    surface.set_fill(Some(fill(*color)));
    for run in pieces {
        let (face, direction, shaping) = if run.arabic {
            (
                &fonts.urdu,
                TextDirection::RightToLeft,
                rustybuzz::Direction::RightToLeft,
            )
        } else if *bold {
            (
                &fonts.bold,
                TextDirection::LeftToRight,
                rustybuzz::Direction::LeftToRight,
            )
        } else {
            (
                &fonts.regular,
                TextDirection::LeftToRight,
                rustybuzz::Direction::LeftToRight,
            )
        };
        surface.draw_text(
            Point::from_xy(at, *y),
            face.font.clone(),
            *size,
            run.text,
            false,
            direction,
        );
        at += face.width(run.text, *size, shaping);
    }
}

impl Writer {
    fn ops(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a page is open")
    }

    /// Makes room for `height` points, on a new page if this one is full.
    fn room(&mut self, height: f32) {
        if self.y + height > BOTTOM {
            self.pages.push(Vec::new());
            self.y = MARGIN + 12.0;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn text(
        &mut self,
        x: f32,
        y: f32,
        text: &str,
        size: f32,
        bold: bool,
        color: (u8, u8, u8),
        align: Align,
    ) {
        self.ops().push(Op::Text {
            x,
            y,
            text: text.to_owned(),
            size,
            bold,
            color,
            align,
        });
    }

    fn line(&mut self, y: f32) {
        self.ops().push(Op::Line { y, color: RULE });
    }

    fn finish(self, document: &mut Document, title: &str) {
        let count = self.pages.len();
        for (index, ops) in self.pages.into_iter().enumerate() {
            let settings =
                PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT).expect("A4 is a page size");
            let mut page = document.start_page_with(settings);
            let mut surface = page.surface();
            for op in &ops {
                match op {
                    Op::Text { .. } => draw_text(&mut surface, op),
                    Op::Rect { rect, color } => {
                        let mut path = PathBuilder::new();
                        path.push_rect(*rect);
                        if let Some(path) = path.finish() {
                            surface.set_fill(Some(fill(*color)));
                            surface.set_stroke(None);
                            surface.draw_path(&path);
                        }
                    }
                    Op::Line { y, color } => {
                        let mut path = PathBuilder::new();
                        path.move_to(MARGIN, *y);
                        path.line_to(RIGHT, *y);
                        if let Some(path) = path.finish() {
                            surface.set_fill(None);
                            surface.set_stroke(Some(Stroke {
                                paint: rgb::Color::new(color.0, color.1, color.2).into(),
                                width: 0.75,
                                ..Default::default()
                            }));
                            surface.draw_path(&path);
                            surface.set_stroke(None);
                        }
                    }
                    Op::Image { image, rect } => {
                        surface.push_transform(&krilla::geom::Transform::from_translate(
                            rect.left(),
                            rect.top(),
                        ));
                        if let Some(size) = Size::from_wh(rect.width(), rect.height()) {
                            surface.draw_image(image.clone(), size);
                        }
                        surface.pop();
                    }
                }
            }
            if count > 1 {
                draw_text(
                    &mut surface,
                    &Op::Text {
                        x: RIGHT,
                        y: PAGE_HEIGHT - 32.0,
                        text: format!("{title} · page {} of {count}", index + 1),
                        size: 8.0,
                        bold: false,
                        color: MUTED,
                        align: Align::Right,
                    },
                );
            }
            surface.finish();
            page.finish();
        }
    }
}

/// The file name a download or an attachment gets: `NGR-2026-000123.pdf`.
pub fn file_name(invoice: &Invoice) -> String {
    format!("{}.pdf", invoice.code)
}

/// The logo as an image, if it decodes.
fn logo_image(logo: Option<&(Vec<u8>, String)>) -> Option<Image> {
    let (bytes, kind) = logo?;
    let data = bytes.clone().into();
    let image = match kind.as_str() {
        "image/png" => Image::from_png(data, true),
        "image/jpeg" => Image::from_jpeg(data, true),
        _ => return None,
    };
    match image {
        Ok(image) => Some(image),
        Err(err) => {
            tracing::warn!("the invoice logo does not decode: {err}");
            None
        }
    }
}

/// Renders `invoice` (with the shop's logo, PNG or JPEG bytes and content type) as PDF.
pub fn render(invoice: &Invoice, logo: Option<&(Vec<u8>, String)>) -> anyhow::Result<Vec<u8>> {
    let title = invoice.title();
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(format!("{title} {}", invoice.code))
            .creator(invoice.seller.name.clone())
            .producer("NextGenRDP".to_owned())
            .language("en".to_owned()),
    );
    let mut w = Writer {
        pages: vec![Vec::new()],
        y: MARGIN,
    };
    let seller = &invoice.seller.0;
    let buyer = &invoice.buyer.0;

    // The heading: logo and seller on the left, the title and number on the right.
    let mut left_x = MARGIN;
    if let Some(image) = logo_image(logo) {
        let (width, height) = image.size();
        let scale = (48.0 / height.max(1) as f32).min(140.0 / width.max(1) as f32);
        let (iw, ih) = (width as f32 * scale, height as f32 * scale);
        if let Some(rect) = Rect::from_xywh(MARGIN, MARGIN - 6.0, iw, ih) {
            w.ops().push(Op::Image { image, rect });
            left_x = MARGIN + iw + 12.0;
        }
    }
    w.text(
        left_x,
        MARGIN + 16.0,
        &seller.name,
        15.0,
        true,
        INK,
        Align::Left,
    );
    w.text(RIGHT, MARGIN + 16.0, title, 17.0, true, INK, Align::Right);
    w.text(
        RIGHT,
        MARGIN + 34.0,
        &invoice.code,
        10.5,
        true,
        INK,
        Align::Right,
    );
    w.text(
        RIGHT,
        MARGIN + 49.0,
        &format!("Issued {}", invoice.issue_date.format("%-d %B %Y")),
        9.0,
        false,
        MUTED,
        Align::Right,
    );
    w.text(
        RIGHT,
        MARGIN + 62.0,
        &format!("Order {}", invoice.order_id),
        9.0,
        false,
        MUTED,
        Align::Right,
    );
    w.y = MARGIN + 84.0;
    if let Some(corrected) = &invoice.corrects_code {
        w.text(
            RIGHT,
            MARGIN + 75.0,
            &format!("Corrects invoice {corrected}"),
            9.0,
            true,
            INK,
            Align::Right,
        );
        w.y += 10.0;
    }

    // Seller and buyer, side by side.
    let column = 250.0;
    let mut seller_lines = vec![seller.name.clone()];
    seller_lines.extend(wrap(&seller.address, 9.0, false, column));
    if let Some(ntn) = &seller.ntn {
        seller_lines.push(format!("NTN {ntn}"));
    }
    if let Some(strn) = &seller.strn {
        seller_lines.push(format!("STRN {strn}"));
    }
    let mut buyer_lines = vec![buyer.name.clone()];
    if !buyer.email.is_empty() {
        buyer_lines.push(buyer.email.clone());
    }
    if let Some(tax_id) = &buyer.tax_id {
        let kind = if tax_id.len() > 10 { "CNIC" } else { "NTN" };
        buyer_lines.push(format!("{kind} {tax_id}"));
    }
    if let Some(address) = &buyer.address {
        buyer_lines.extend(wrap(address, 9.0, false, column));
    }
    if let Some(province) = buyer.province {
        buyer_lines.push(province.label().to_owned());
    }
    let top = w.y;
    w.text(MARGIN, top, "From", 8.0, true, MUTED, Align::Left);
    w.text(
        PAGE_WIDTH / 2.0 + 10.0,
        top,
        "Bill to",
        8.0,
        true,
        MUTED,
        Align::Left,
    );
    for (i, line) in seller_lines.iter().enumerate() {
        w.text(
            MARGIN,
            top + 15.0 + 13.0 * i as f32,
            line,
            9.0,
            i == 0,
            INK,
            Align::Left,
        );
    }
    for (i, line) in buyer_lines.iter().enumerate() {
        w.text(
            PAGE_WIDTH / 2.0 + 10.0,
            top + 15.0 + 13.0 * i as f32,
            line,
            9.0,
            i == 0,
            INK,
            Align::Left,
        );
    }
    w.y = top + 15.0 + 13.0 * seller_lines.len().max(buyer_lines.len()) as f32 + 10.0;

    // The lines.
    let (months_x, qty_x, unit_x) = (360.0, 405.0, 475.0);
    let band = Rect::from_xywh(MARGIN, w.y, RIGHT - MARGIN, 20.0);
    if let Some(rect) = band {
        w.ops().push(Op::Rect { rect, color: BAND });
    }
    let head = w.y + 13.5;
    w.text(
        MARGIN + 6.0,
        head,
        "Description",
        8.5,
        true,
        INK,
        Align::Left,
    );
    w.text(months_x, head, "Months", 8.5, true, INK, Align::Right);
    w.text(qty_x, head, "Qty", 8.5, true, INK, Align::Right);
    w.text(unit_x, head, "Price / month", 8.5, true, INK, Align::Right);
    w.text(RIGHT - 6.0, head, "Amount", 8.5, true, INK, Align::Right);
    w.y += 34.0;
    for line in invoice.lines.iter() {
        let description = wrap(&line.description, 9.0, false, months_x - 60.0 - MARGIN);
        let height = 13.0 * description.len().max(1) as f32 + 8.0;
        w.room(height);
        let y = w.y;
        for (i, text) in description.iter().enumerate() {
            w.text(
                MARGIN + 6.0,
                y + 13.0 * i as f32,
                text,
                9.0,
                false,
                INK,
                Align::Left,
            );
        }
        if line.months > 0 {
            w.text(
                months_x,
                y,
                &line.months.to_string(),
                9.0,
                false,
                INK,
                Align::Right,
            );
            w.text(
                qty_x,
                y,
                &line.quantity.to_string(),
                9.0,
                false,
                INK,
                Align::Right,
            );
            w.text(
                unit_x,
                y,
                &format_pkr(line.unit_price_pkr),
                9.0,
                false,
                INK,
                Align::Right,
            );
        }
        w.text(
            RIGHT - 6.0,
            y,
            &format_pkr(line.amount_pkr),
            9.0,
            false,
            INK,
            Align::Right,
        );
        w.y += height;
        w.line(w.y - 9.0);
    }

    // The totals.
    w.room(120.0);
    w.y += 8.0;
    let mut totals: Vec<(String, String, bool)> = Vec::new();
    let registered = invoice.tax_mode != TaxMode::Off;
    totals.push(("Subtotal".into(), format_pkr(invoice.subtotal_pkr), false));
    if invoice.discount_pkr > 0 {
        totals.push((
            "Discount".into(),
            format!("- {}", format_pkr(invoice.discount_pkr)),
            false,
        ));
    }
    if registered {
        totals.push((
            "Value excluding sales tax".into(),
            format_pkr(invoice.taxable_pkr),
            false,
        ));
        let province = invoice
            .tax_province
            .map(|p| format!(", {}", p.label()))
            .unwrap_or_default();
        totals.push((
            format!("Sales tax {}{province}", invoice.rate_label()),
            format_pkr(invoice.tax_pkr),
            false,
        ));
    }
    let total_label = match invoice.kind {
        InvoiceKind::Invoice => "Total paid",
        InvoiceKind::CreditNote => "Total credited",
    };
    totals.push((total_label.into(), format_pkr(invoice.total_pkr), true));
    for (label, amount, strong) in &totals {
        if *strong {
            w.line(w.y - 10.0);
            w.y += 4.0;
        }
        let size = if *strong { 11.0 } else { 9.0 };
        w.text(unit_x, w.y, label, size, *strong, INK, Align::Right);
        w.text(RIGHT - 6.0, w.y, amount, size, *strong, INK, Align::Right);
        w.y += 16.0;
    }

    // How it was paid, and what the document is.
    w.room(70.0);
    w.y += 14.0;
    if let Some(method) = &invoice.payment_method {
        let what = match invoice.kind {
            InvoiceKind::Invoice => "Paid by",
            InvoiceKind::CreditNote => "Given back as",
        };
        let reference = invoice
            .payment_reference
            .as_deref()
            .map(|r| format!(", reference {r}"))
            .unwrap_or_default();
        w.text(
            MARGIN,
            w.y,
            &format!("{what} {method}{reference}"),
            9.0,
            false,
            INK,
            Align::Left,
        );
        w.y += 14.0;
    }
    let note = if registered {
        match invoice.tax_mode {
            TaxMode::Inclusive => "Prices include provincial sales tax on services.",
            _ => "Provincial sales tax on services is added to the prices.",
        }
    } else {
        "The seller is not registered for sales tax; no sales tax is charged."
    };
    w.text(
        MARGIN,
        w.y,
        &format!("Amounts in Pakistani rupees (PKR). {note}"),
        8.5,
        false,
        MUTED,
        Align::Left,
    );
    w.finish(&mut document, title);
    document
        .finish()
        .map_err(|err| anyhow::anyhow!("writing the PDF failed: {err:?}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};
    use sqlx::types::Json;

    use super::*;
    use crate::accounts::billing::Province;
    use crate::payments::invoices::{Buyer, InvoiceLine, Seller};

    /// A sales tax invoice with an Urdu name and address, for the tests and for looking at.
    pub(crate) fn sample() -> Invoice {
        Invoice {
            id: 7,
            kind: InvoiceKind::Invoice,
            code: "NGR-2026-000123".into(),
            series: "NGR-2026".into(),
            number: 123,
            order_id: 4567,
            user_id: Some(3),
            corrects_id: None,
            corrects_code: None,
            refund_id: None,
            issued_at: Utc.with_ymd_and_hms(2026, 12, 5, 6, 0, 0).unwrap(),
            issue_date: NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
            tax_mode: TaxMode::Exclusive,
            tax_province: Some(Province::Punjab),
            tax_rate_bp: 1600,
            seller: Json(Seller {
                name: "NextGenRDP (Private) Limited".into(),
                address: "Office 4, Arfa Software Technology Park, Ferozepur Road, Lahore".into(),
                ntn: Some("1234567-8".into()),
                strn: Some("3277876123456".into()),
            }),
            buyer: Json(Buyer {
                name: "محمد علی".into(),
                email: "ali@example.pk".into(),
                tax_id: Some("35202-1234567-1".into()),
                address: Some("مکان 12، گلی 4، لاہور".into()),
                province: Some(Province::Punjab),
            }),
            lines: Json(vec![
                InvoiceLine {
                    description: "RDP Basic, Karachi".into(),
                    plan_id: Some("rdp-basic".into()),
                    location: Some("Karachi".into()),
                    months: 3,
                    quantity: 2,
                    unit_price_pkr: 4500,
                    amount_pkr: 27_000,
                },
                InvoiceLine {
                    description: "VPS Pro with a long name that has to wrap onto a second line \
                                  of the description column, Lahore"
                        .into(),
                    plan_id: Some("vps-pro".into()),
                    location: Some("Lahore".into()),
                    months: 1,
                    quantity: 1,
                    unit_price_pkr: 9000,
                    amount_pkr: 9000,
                },
            ]),
            subtotal_pkr: 36_000,
            discount_pkr: 3600,
            taxable_pkr: 32_400,
            tax_pkr: 5184,
            total_pkr: 37_584,
            payment_method: Some("JazzCash + account credit Rs 500".into()),
            payment_reference: Some("T20261205000001".into()),
        }
    }

    #[test]
    fn an_invoice_renders_as_a_pdf_with_urdu_and_its_metadata() {
        let bytes = render(&sample(), None).unwrap();
        assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
        // The fonts are subset: far below the 1.2 MB of the three embedded files.
        assert!(bytes.len() < 120_000, "{} bytes", bytes.len());
        if let Ok(path) = std::env::var("NEXTGENRDP_SAMPLE_PDF") {
            std::fs::write(path, &bytes).unwrap();
        }
        assert_eq!(file_name(&sample()), "NGR-2026-000123.pdf");
    }

    #[test]
    fn text_is_split_by_script() {
        let parts: Vec<(&str, bool)> = runs("Ali محمد 12، لاہور")
            .iter()
            .map(|r| (r.text, r.arabic))
            .collect();
        assert_eq!(
            parts,
            vec![
                ("Ali ", false),
                ("محمد ", true),
                ("12", false),
                ("، لاہور", true)
            ]
        );
        assert!(text_width("Total", 10.0, true) > text_width("Total", 10.0, false) * 0.9);
        assert_eq!(wrap("one two three", 10.0, false, 1.0).len(), 3);
    }
}
