//! Orders and billing: orders, their items and promo codes.
