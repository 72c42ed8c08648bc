//! Whole-line tests of the parser over real corpus and generator lines.
