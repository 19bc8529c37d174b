"""Zero-shot foundation models (LiteMedSAM, MedSAM2) with box prompts: oracle, jittered or from a trained model."""
