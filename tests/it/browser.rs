//! Real Chromium over WebDriver (being written).
