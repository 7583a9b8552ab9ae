"""Pure unit tests of the evaluation core: plain data in, Findings out, no I/O."""
