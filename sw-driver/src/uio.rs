//! Linux UIO transport (placeholder, filled in below).
