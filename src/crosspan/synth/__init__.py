"""Physics-based synthetic abdominal MRI: anatomy -> tissue label map -> render(sequence, scanner) -> image."""
