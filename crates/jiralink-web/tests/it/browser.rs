//! Browser tests in headless Chromium (see below).
